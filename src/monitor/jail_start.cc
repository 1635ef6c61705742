// Jail construction. Called in a forked child of the monitor, as root (rootless: in a new user
// namespace), once.
#include "jail_start.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "unique_fd.h"

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

// The capabilities this process's bounding set may still hold: every one, unless the monitor
// narrowed it before it forked anything (NarrowBoundingSet, which proved every other one gone).
// A child inherits its parent's bounding set and nothing widens it but a new user namespace,
// which only a rootless monitor, which never narrows it, makes.
std::uint64_t g_bounding_candidates = ~std::uint64_t{0};

bool MayHoldInBoundingSet(int cap) {
  return cap >= 64 || (g_bounding_candidates >> cap & 1) != 0;
}

// True when this thread holds any capability: effective, permitted, inheritable or bounding.
bool HasCapabilities() {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return true;
  for (const auto& d : data) {
    if (d.effective != 0 || d.permitted != 0 || d.inheritable != 0) return true;
  }
  for (int cap = 0;; ++cap) {
    if (!MayHoldInBoundingSet(cap)) continue;
    int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (r < 0) return false;  // past the last capability
    if (r > 0) return true;
  }
}

Status WriteProcSelf(const char* file, const std::string& text) {
  std::string path = std::string("/proc/self/") + file;
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, path);
  ssize_t n = write(fd.get(), text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size())) return Status::FromErrno(errno, "writing " + path);
  return Status::Ok();
}

// Rootless: the launching user's uid and gid, mapped to themselves, are the only ids of the
// new user namespace. setgroups is denied in it first (the kernel's rule for an unprivileged
// gid map), so the supplementary groups stay the launching user's.
Status MapOwnIds(const char* name, uid_t uid, gid_t gid) {
  // The monitor is not dumpable, nor is this copy of it, and the /proc files of a process that
  // is not dumpable belong to root: writable by this process only while it is dumpable. (Only
  // processes of the launching user could trace it meanwhile, and it holds nothing of theirs.)
  if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) return Status::FromErrno(errno, "PR_SET_DUMPABLE");
  Status s = WriteProcSelf("setgroups", "deny");
  if (s.ok()) s = WriteProcSelf("uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n");
  if (s.ok()) s = WriteProcSelf("gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n");
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 && s.ok()) {
    s = Status::FromErrno(errno, "PR_SET_DUMPABLE");
  }
  if (!s.ok()) return Status::Error(std::string(name) + ": mapping ids in the user namespace: " +
                                    s.message());
  return Status::Ok();
}

// Gives up every capability for good: the bounding set (one PR_CAPBSET_DROP per capability it
// may still hold, until the kernel says there are no more), the ambient set, then with ids
// given (uid != 0) supplementary groups, gid and uid, and last the effective, permitted and
// inheritable sets, explicitly (whatever securebits say about keeping them across setresuid).
// About 15 system calls where the monitor narrowed its bounding set, 50 where it did not;
// libcap-ng's capng_change_id made about 170 for the same (it reads every set before and after
// each step), in every jail of every session (bench/README.md). HasCapabilities() then proves
// it. Rootless: the process has its ids already and gives up what its user namespace gave it.
// With keep (the session's monitor: CAP_CHOWN for chown_uploads, ...), those stay effective and
// permitted across the change of ids (PR_SET_KEEPCAPS), and nothing else does.
Status DropEveryCapability(const char* name, uid_t uid, gid_t gid,
                           const std::vector<gid_t>* groups,
                           const std::vector<int>& keep = {}) {
  for (int cap = 0;; ++cap) {
    if (!MayHoldInBoundingSet(cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
    if (errno == EINVAL && cap > 0) break;  // past the last capability
    return Status::FromErrno(errno, std::string(name) + ": PR_CAPBSET_DROP");
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return Status::FromErrno(errno, std::string(name) + ": PR_CAP_AMBIENT_CLEAR_ALL");
  }
  if (uid != 0) {
    if (!keep.empty() && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
      return Status::FromErrno(errno, std::string(name) + ": PR_SET_KEEPCAPS");
    }
    if (setgroups(groups->size(), groups->data()) != 0) {
      return Status::FromErrno(errno, std::string(name) + ": setgroups");
    }
    if (setresgid(gid, gid, gid) != 0) {
      return Status::FromErrno(errno, std::string(name) + ": setresgid");
    }
    if (setresuid(uid, uid, uid) != 0) {
      return Status::FromErrno(errno, std::string(name) + ": setresuid");
    }
    if (!keep.empty() && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) {
      return Status::FromErrno(errno, std::string(name) + ": PR_SET_KEEPCAPS");
    }
  }
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct sets[2] = {};
  for (int cap : keep) {
    sets[cap / 32].effective |= 1u << (cap % 32);
    sets[cap / 32].permitted |= 1u << (cap % 32);
  }
  if (syscall(SYS_capset, &header, sets) != 0) {
    return Status::FromErrno(errno, std::string(name) + ": capset");
  }
  return Status::Ok();
}

// No processes, no core, few files, bounded address space.
Status SetJailLimits(unsigned max_open_files, unsigned long max_address_space) {
  Status s = SetLimit(RLIMIT_CORE, 0, "RLIMIT_CORE");
  if (s.ok()) s = SetLimit(RLIMIT_NPROC, 0, "RLIMIT_NPROC");
  if (s.ok()) s = SetLimit(RLIMIT_NOFILE, max_open_files, "RLIMIT_NOFILE");
#if !KEEPFTPD_SANITIZED
  // (Sanitizer builds reserve terabytes of address space for their shadow memory.)
  if (s.ok()) s = SetLimit(RLIMIT_AS, max_address_space, "RLIMIT_AS");
#else
  (void)max_address_space;
#endif
  return s;
}

}  // namespace

Status DropToUser(const char* name, uid_t uid, gid_t gid) {
  static const std::vector<gid_t> kNoGroups;
  if (uid == 0) return Status::Error(std::string(name) + ": refusing to stay root");
  Status dropped = DropEveryCapability(name, uid, gid, &kNoGroups);
  if (!dropped.ok()) return dropped;
  if (HasCapabilities()) {
    return Status::Error(std::string(name) + ": capabilities left after dropping them");
  }
  return Status::Ok();
}

Status NarrowBoundingSet(const std::vector<int>& keep) {
  std::uint64_t wanted = 0;
  for (int cap : keep) wanted |= std::uint64_t{1} << cap;
  // Dropped, then every capability read back: the proof the jails rely on.
  int last = 0;
  for (int cap = 0;; ++cap) {
    if (cap < 64 && (wanted >> cap & 1) != 0) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
    if (errno == EINVAL && cap > 0) {
      last = cap;
      break;
    }
    return Status::FromErrno(errno, "monitor: PR_CAPBSET_DROP");
  }
  std::uint64_t held = 0;
  for (int cap = 0; cap < last; ++cap) {
    int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (r < 0) return Status::FromErrno(errno, "monitor: PR_CAPBSET_READ");
    if (r == 0) continue;
    if (cap >= 64 || (wanted >> cap & 1) == 0) {
      return Status::Error("monitor: the bounding set kept a capability it dropped");
    }
    held |= std::uint64_t{1} << cap;
  }
  g_bounding_candidates = held;
  return Status::Ok();
}

std::string UserNamespaceRefused(int errno_value) {
  return std::string("run_as_launching_user=YES: the kernel refused an unprivileged user "
                     "namespace (") + std::strerror(errno_value) +
         "), and keepftpd does not serve without one: its jails could not chroot. Allow them "
         "(sysctl user.max_user_namespaces above 0; kernel.unprivileged_userns_clone=1 where it "
         "exists; kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for "
         "keepftpd where AppArmor restricts them; in a container, a seccomp profile that allows "
         "clone with CLONE_NEWUSER), or run keepftpd as root with run_as_launching_user=NO";
}

Status EnterJail(const JailSpec& spec, std::initializer_list<int> keep_fds) {
  if (spec.uid == 0) return Status::Error(std::string(spec.name) + ": refusing to run as root");
  CloseAllBut(keep_fds);
  if (spec.rootless) {
    Status s = MapOwnIds(spec.name, spec.uid, spec.gid);
    if (!s.ok()) return s;
    if (getuid() != spec.uid || getgid() != spec.gid) {
      return Status::Error(std::string(spec.name) + ": rootless jail started with other ids");
    }
  }
  if (chroot(spec.root.c_str()) != 0) {
    return Status::FromErrno(errno, "chroot to " + spec.root);
  }
  if (chdir("/") != 0) return Status::FromErrno(errno, "chdir / in " + spec.root);

  // Become the jail's user: its supplementary groups (looked up by the monitor: there is no NSS
  // in the chroot) or none, no capabilities in any set. (Rootless: already the jail's user, it
  // gives up the user namespace's capabilities.)
  Status dropped = spec.rootless ? DropEveryCapability(spec.name, 0, 0, nullptr)
                                 : DropEveryCapability(spec.name, spec.uid, spec.gid, &spec.groups);
  if (!dropped.ok()) return dropped;
  if (HasCapabilities()) {
    return Status::Error(std::string(spec.name) + ": capabilities left after dropping them");
  }
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
  // Not dumpable whatever fs.suid_dumpable says: the change of ids set the flag from it, and at
  // 1 any process of the jail's user could trace the jail or read its memory.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return Status::FromErrno(errno, "PR_SET_DUMPABLE");
  pollfd alive = {spec.channel, POLLIN, 0};
  if (poll(&alive, 1, 0) != 0 && (alive.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) _exit(1);

  if (spec.refuse_writable_root && access("/", W_OK) == 0) {
    return Status::Error(std::string(kWritableRootRefusal) + " (" +
                         spec.root + "): make it owned by root and not writable by the user" +
                         (spec.writable_root_hint.empty() ? "" : ", " + spec.writable_root_hint));
  }

  Status s = SetJailLimits(spec.max_open_files, spec.max_address_space);
  if (!s.ok()) return s;

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::FromErrno(errno, "PR_SET_NO_NEW_PRIVS");
  }
  if (spec.seccomp) return InstallSandbox(spec.sandbox, spec.channel, spec.seccomp_log_only);
  return Status::Ok();
}

Status ConfineMonitor(const MonitorJailSpec& spec) {
  static constexpr char kName[] = "session monitor";
  if (spec.uid == 0) return Status::Error("session monitor: refusing to run as root");
  if (spec.rootless) {
    // The launching user's process: a user namespace of its own gives it the right to chroot.
    if (unshare(CLONE_NEWUSER) != 0) return Status::Error(UserNamespaceRefused(errno));
    Status s = MapOwnIds(kName, spec.uid, spec.gid);
    if (!s.ok()) return s;
  }
  if (chroot(spec.root.c_str()) != 0) return Status::FromErrno(errno, "chroot to " + spec.root);
  if (chdir("/") != 0) return Status::FromErrno(errno, "chdir / in " + spec.root);
  // The session user with no supplementary groups, and only the capabilities it is given.
  // (Rootless: already that user, it gives up its user namespace's capabilities.)
  static const std::vector<gid_t> kNoGroups;
  Status dropped = spec.rootless
                       ? DropEveryCapability(kName, 0, 0, nullptr)
                       : DropEveryCapability(kName, spec.uid, spec.gid, &kNoGroups,
                                             spec.capabilities);
  if (!dropped.ok()) return dropped;
  if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
    return Status::Error("session monitor: could regain root after dropping it");
  }
  if (getuid() != spec.uid || geteuid() != spec.uid || getgid() != spec.gid) {
    return Status::Error("session monitor: ids did not change");
  }
  // After the last credential change, which clears it; then check the keeper is still there.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Status::FromErrno(errno, "PR_SET_PDEATHSIG");
  if (getppid() != spec.parent) _exit(0);
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return Status::FromErrno(errno, "PR_SET_DUMPABLE");
  Status s = SetJailLimits(64, 256ul << 20);
  if (!s.ok()) return s;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::FromErrno(errno, "PR_SET_NO_NEW_PRIVS");
  }
  if (spec.seccomp) return InstallMonitorSandbox(spec.sandbox);
  return Status::Ok();
}

}  // namespace keepftpd
