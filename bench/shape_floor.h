// What bench/shape_floor.cc and bench/shape_floor_tls.cc share: entering a jail as keepftpd's
// jails do (chroot, ids, no_new_privs, not dumpable, one of keepftpd's compiled filters), one
// line at a time on the connection, and reaping. Any failure ends the process with status 1.
#ifndef KEEPFTPD_BENCH_SHAPE_FLOOR_H_
#define KEEPFTPD_BENCH_SHAPE_FLOOR_H_

#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sandbox_filters.h"

namespace shape {

[[noreturn]] inline void Fail() { _exit(1); }

// One of keepftpd's compiled filters; the session monitor's with the session jail's pid in the
// first mark and the TLS jail's (or again the session jail's) in the second, as keepftpd's
// sandbox.cc patches it.
inline void LoadFilter(std::span<const sock_filter> compiled, pid_t jail = 0,
                       pid_t second = 0) {
  std::vector<sock_filter> prog(compiled.begin(), compiled.end());
  const pid_t pids[2] = {jail, second != 0 ? second : jail};
  for (sock_filter& insn : prog) {
    for (int i = 0; i < 2; ++i) {
      if (jail != 0 && insn.code == (BPF_JMP | BPF_JEQ | BPF_K) &&
          insn.k == keepftpd::seccomp_bpf::kPidMark[i]) {
        insn.k = static_cast<std::uint32_t>(pids[i]);
      }
    }
  }
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) != 0) Fail();
}

inline void TakeIds(uid_t uid, gid_t gid) {
  if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
      setresuid(uid, uid, uid) != 0)
    Fail();
}

// The session monitor's confinement, without the filter: chroot, ids, not dumpable,
// no_new_privs.
inline void Confine(const char* root, uid_t uid, gid_t gid) {
  if (chroot(root) != 0 || chdir("/") != 0) Fail();
  TakeIds(uid, gid);
  if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Fail();
}

inline void EnterJail(const char* root, uid_t uid, gid_t gid,
                      std::span<const sock_filter> filter) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) Fail();
  Confine(root, uid, gid);
  LoadFilter(filter);
}

inline void Say(int fd, std::string_view line) {
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) Fail();
}

// Reads one command line (the client sends the next only after a reply, so a read ends at it)
// and returns its first four bytes.
inline std::string_view Hear(int fd) {
  static char buf[512];
  size_t got = 0;
  while (got == 0 || buf[got - 1] != '\n') {
    ssize_t n = read(fd, buf + got, sizeof buf - got);
    if (n <= 0 || (got += static_cast<size_t>(n)) == sizeof buf) Fail();
  }
  return std::string_view(buf, got < 4 ? got : 4);
}

inline void Reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) Fail();
}

// After the login: forks the session's monitor, which forks the session jail (connection on
// fd 0/1: the client's, or the TLS jail's plaintext end) and then confines itself as keepftpd's
// does, its filter patched with the jail's pid and tls_jail's (0: none). With a TLS jail the
// session's monitor lets go of the plaintext end, so that the TLS jail sees the session end when
// the jail exits; other_fd (-1: none) is closed in both. Returns the session monitor's pid.
inline pid_t StartSession(const char* empty, const char* session_root, uid_t uid, gid_t gid,
                          pid_t tls_jail, int other_fd) {
  pid_t session_monitor = fork();
  if (session_monitor != 0) {
    if (session_monitor < 0) Fail();
    return session_monitor;
  }
  int channel[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) Fail();
  pid_t jail = fork();
  if (jail < 0) Fail();
  if (other_fd >= 0) close(other_fd);
  if (jail == 0) {  // session jail
    close(channel[0]);
    EnterJail(session_root, uid, gid, keepftpd::seccomp_bpf::kSession);
    Say(1, "230 Login successful.\r\n");
    for (std::string_view command = Hear(0); command != "QUIT"; command = Hear(0))
      Say(1, command == "PWD\r" ? "257 \"/\" is the current directory\r\n" : "200 OK\r\n");
    Say(1, "221 Goodbye.\r\n");
    _exit(0);
  }
  close(channel[1]);
  if (tls_jail != 0) {
    close(0);
    close(1);
  }
  Confine(empty, uid, gid);
  LoadFilter(keepftpd::seccomp_bpf::kSessionMonitor, jail, tls_jail);
  char byte;
  while (read(channel[0], &byte, 1) > 0) {
  }
  Reap(jail);
  _exit(0);
}

}  // namespace shape

#endif  // KEEPFTPD_BENCH_SHAPE_FLOOR_H_
