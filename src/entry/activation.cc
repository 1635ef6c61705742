// Socket activation and descriptor hygiene. Entry process only.
#include "activation.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>

namespace keepftpd {

namespace {

constexpr const char* kHowToStart =
    "keepftpd serves one connection handed over by its superserver: systemd (ftp.socket with "
    "Accept=yes) or xinetd/inetd. See keepftpd(8).";

// A connected TCP socket of family IPv4 or IPv6 (sd_is_socket only says it is not listening:
// a socket that was never connected has no peer).
bool IsConnectedTcpSocket(int fd) {
  if (sd_is_socket(fd, AF_INET, SOCK_STREAM, 0) <= 0 &&
      sd_is_socket(fd, AF_INET6, SOCK_STREAM, 0) <= 0) {
    return false;
  }
  sockaddr_storage peer;
  socklen_t len = sizeof(peer);
  return getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0;
}

std::string Describe(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return "closed";
  if (isatty(fd)) return "a terminal";
  if (S_ISFIFO(st.st_mode)) return "a pipe";
  if (S_ISREG(st.st_mode)) return "a regular file";
  if (S_ISCHR(st.st_mode)) return "a character device";
  if (S_ISSOCK(st.st_mode)) {
    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0) return "a listening socket";
    return "a socket that is not a connected TCP socket";
  }
  return "not a socket";
}

bool SameFile(int a, int b) {
  struct stat sa, sb;
  if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

Result<Activation> FindConnection() {
  Activation result;
  int source = -1;
  int n = sd_listen_fds(1);  // unsets LISTEN_FDS & co. so nothing later sees them
  if (n < 0) return Status::FromErrno(-n, "reading LISTEN_FDS");
  if (n > 1) {
    return Status::Error("systemd passed " + std::to_string(n) +
                         " sockets; keepftpd needs exactly one connection (Accept=yes). " +
                         kHowToStart);
  }
  if (n == 1) {
    if (!IsConnectedTcpSocket(SD_LISTEN_FDS_START)) {
      return Status::Error("the socket systemd passed is " + Describe(SD_LISTEN_FDS_START) +
                           "; set Accept=yes in the socket unit. " + kHowToStart);
    }
    source = SD_LISTEN_FDS_START;
    result.how = "systemd";
  } else {
    if (!IsConnectedTcpSocket(0)) {
      return Status::Error("standard input is " + Describe(0) + ", not a connected TCP socket. " +
                           kHowToStart);
    }
    source = 0;
    result.how = "inetd";
  }

  // Move the connection above the standard descriptors.
  int conn = fcntl(source, F_DUPFD_CLOEXEC, 3);
  if (conn < 0) return Status::FromErrno(errno, "dup of the connection");
  result.connection.Reset(conn);

  result.stderr_usable = fcntl(2, F_GETFD) >= 0 && !SameFile(2, conn);
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull.valid()) return Status::FromErrno(errno, "open /dev/null");
  dup2(devnull.get(), 0);
  dup2(devnull.get(), 1);
  if (!result.stderr_usable) dup2(devnull.get(), 2);
  if (devnull.get() <= 2) {
    devnull.Release();  // it is one of the standard descriptors itself
  } else {
    devnull.Reset();  // closed now, not again after close_range below
  }
  // Close everything else we may have inherited: everything from 3 up except the connection.
  if (conn > 3) syscall(SYS_close_range, 3u, static_cast<unsigned>(conn - 1), 0u);
  syscall(SYS_close_range, static_cast<unsigned>(conn + 1), ~0u, 0u);
  return result;
}

}  // namespace keepftpd
