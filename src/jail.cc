// Jail construction. Called in a forked child of the monitor, as root, once.
#include "jail.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace keepftpd {

namespace {

Status CloseAllBut(std::initializer_list<int> keep) {
  std::vector<int> fds(keep);
  std::sort(fds.begin(), fds.end());
  unsigned next = 0;
  for (int fd : fds) {
    if (fd < 0) continue;
    if (static_cast<unsigned>(fd) > next) {
      syscall(SYS_close_range, next, static_cast<unsigned>(fd - 1), 0u);
    }
    next = static_cast<unsigned>(fd) + 1;
  }
  syscall(SYS_close_range, next, ~0u, 0u);
  return Status::Ok();
}

Status SetLimit(int resource, rlim_t value, const char* name) {
  rlimit rl = {value, value};
  if (setrlimit(resource, &rl) != 0) return Status::FromErrno(errno, name);
  return Status::Ok();
}

}  // namespace

Status EnterJail(const JailSpec& spec, std::initializer_list<int> keep_fds) {
  if (spec.uid == 0) return Status::Error(std::string(spec.name) + ": refusing to run as root");
  CloseAllBut(keep_fds);
  if (chroot(spec.root.c_str()) != 0) {
    return Status::FromErrno(errno, "chroot to " + spec.root);
  }
  if (chdir("/") != 0) return Status::FromErrno(errno, "chdir / in " + spec.root);

  // Become the jail's user: its supplementary groups (looked up by the monitor: there is no NSS
  // in the chroot) or none, no capabilities in any set, bounding set cleared (libcap-ng does
  // setresgid and setresuid in the right order).
  int flags = CAPNG_CLEAR_BOUNDING;
  if (spec.groups.empty()) {
    flags |= CAPNG_DROP_SUPP_GRP;
  } else if (setgroups(spec.groups.size(), spec.groups.data()) != 0) {
    return Status::FromErrno(errno, "setgroups");
  }
  capng_clear(CAPNG_SELECT_ALL);
  int rc = capng_change_id(static_cast<int>(spec.uid), static_cast<int>(spec.gid),
                           static_cast<capng_flags_t>(flags));
  if (rc != 0) return Status::Error(std::string(spec.name) + ": capng_change_id failed (" +
                                    std::to_string(rc) + ")");
  // Prove the drop: getting root back must fail.
  if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
    return Status::Error(std::string(spec.name) + ": could regain root after dropping it");
  }
  if (getuid() != spec.uid || geteuid() != spec.uid || getgid() != spec.gid) {
    return Status::Error(std::string(spec.name) + ": ids did not change");
  }

  // The parent-death signal is cleared by credential changes, so it is set after the last one;
  // then check the monitor did not die in between: its end of the channel would be closed.
  // (getppid() cannot tell: in a new PID namespace it is 0.)
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Status::FromErrno(errno, "PR_SET_PDEATHSIG");
  pollfd alive = {spec.channel, POLLIN, 0};
  if (poll(&alive, 1, 0) != 0 && (alive.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) _exit(1);

  if (spec.refuse_writable_root && access("/", W_OK) == 0) {
    return Status::Error("refusing to run with a root directory the user can write (" +
                         spec.root + "): make it owned by root and not writable by the user" +
                         (spec.writable_root_hint.empty() ? "" : ", " + spec.writable_root_hint));
  }

  Status s = SetLimit(RLIMIT_CORE, 0, "RLIMIT_CORE");
  if (s.ok()) s = SetLimit(RLIMIT_NPROC, 0, "RLIMIT_NPROC");
  if (s.ok()) s = SetLimit(RLIMIT_NOFILE, spec.max_open_files, "RLIMIT_NOFILE");
#if !KEEPFTPD_SANITIZED
  // (Sanitizer builds reserve terabytes of address space for their shadow memory.)
  if (s.ok()) s = SetLimit(RLIMIT_AS, spec.max_address_space, "RLIMIT_AS");
#endif
  if (!s.ok()) return s;

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::FromErrno(errno, "PR_SET_NO_NEW_PRIVS");
  }
  if (spec.seccomp) return InstallSandbox(spec.sandbox, spec.channel, spec.seccomp_log_only);
  return Status::Ok();
}

}  // namespace keepftpd
