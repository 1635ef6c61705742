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

}  // namespace shape

#endif  // KEEPFTPD_BENCH_SHAPE_FLOOR_H_
