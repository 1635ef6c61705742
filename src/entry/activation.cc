// Socket activation and descriptor hygiene. Entry process only.
#include "activation.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "dynamic_library.h"

namespace keepftpd {

namespace {

constexpr const char* kHowToStart =
    "keepftpd serves one connection handed over by its superserver: systemd (ftp.socket with "
    "Accept=yes) or xinetd/inetd. See keepftpd(8).";

int SocketOption(int fd, int name) {
  int value = 0;
  socklen_t len = sizeof(value);
  return getsockopt(fd, SOL_SOCKET, name, &value, &len) == 0 ? value : -1;
}

// A connected TCP socket of family IPv4 or IPv6 (a socket that was never connected has no peer).
bool IsConnectedTcpSocket(int fd) {
  const int domain = SocketOption(fd, SO_DOMAIN);
  if ((domain != AF_INET && domain != AF_INET6) || SocketOption(fd, SO_TYPE) != SOCK_STREAM) {
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
    if (SocketOption(fd, SO_TYPE) == SOCK_STREAM && SocketOption(fd, SO_ACCEPTCONN) == 1) {
      return "a listening socket";
    }
    return "a socket that is not a connected TCP socket";
  }
  return "not a socket";
}

// How many sockets systemd passed (LISTEN_FDS), read by libsystemd's sd_listen_fds(1), which
// also unsets systemd's variables so that nothing later sees them. libsystemd, and the six
// libraries it needs, is loaded only when one of those variables is set, and unloaded again:
// under inetd, xinetd or StandardInput=socket no process of the session maps it, and where it
// was loaded, the session's forks do not copy it (bench/README.md, "The floor of the process
// shape": what mapping them cost every session).
Result<int> ListenFds() {
  if (std::getenv("LISTEN_FDS") == nullptr && std::getenv("LISTEN_PID") == nullptr &&
      std::getenv("LISTEN_FDNAMES") == nullptr) {
    return 0;
  }
  constexpr char kFile[] = "libsystemd.so.0";
  void* handle = nullptr;
  if (Status s = dynamic::Open(kFile, "libsystemd", 0, &handle); !s.ok()) return s;
  decltype(&sd_listen_fds) listen_fds = nullptr;
  Status s = dynamic::Resolve(handle, kFile, "sd_listen_fds", &listen_fds);
  const int n = s.ok() ? listen_fds(1) : 0;
  dlclose(handle);
  if (!s.ok()) return s;
  if (n < 0) return Status::FromErrno(-n, "reading LISTEN_FDS");
  return n;
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
  Result<int> listen_fds = ListenFds();
  if (!listen_fds.ok()) return listen_fds.status();
  const int n = *listen_fds;
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
