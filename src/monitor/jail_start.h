// Building a jail in a freshly forked child of the monitor: keep only the granted descriptors,
// chroot, become the jail's user with no capabilities (proved by trying to undo it), die with the
// monitor, bounded rlimits (no processes, no core, few files, bounded address space),
// no_new_privs, not dumpable, seccomp. Called in the child only, as root (or, rootless, as the
// launching user in a new user namespace), once.
#ifndef KEEPFTPD_SRC_MONITOR_JAIL_START_H_
#define KEEPFTPD_SRC_MONITOR_JAIL_START_H_

#include <sys/types.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "sandbox.h"  // and KEEPFTPD_SANITIZED
#include "status.h"

namespace keepftpd {

struct JailSpec {
  const char* name = "jail";     // for messages: "prelogin", "session"
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;     // supplementary groups (local users); empty: none
  std::string root;              // chroot here
  bool refuse_writable_root = false;  // refuse a root the jail's user can write (anon_root)
  std::string writable_root_hint;     // appended to that refusal: another way out
  SandboxKind sandbox = SandboxKind::kPrelogin;
  bool seccomp = true;           // seccomp_sandbox
  bool seccomp_log_only = false; // seccomp_log_only: forbidden calls run, and the kernel logs them
  unsigned max_open_files = 32;
  unsigned long max_address_space = 256ul << 20;  // RLIMIT_AS, bytes
  int channel = -1;              // to the monitor: seccomp reports, and the monitor-alive check
  // run_as_launching_user: the process is the only one of a user namespace it was cloned into
  // (CLONE_NEWUSER), not root; it maps its own uid and gid there (uid and gid above), which
  // gives it the capabilities to chroot, then drops them all. It keeps its ids.
  bool rootless = false;
};

// The monitor, as root, before it forks anything: drops every capability but keep from its
// bounding set (what a program it execs as root could hold: it never execs one, but PAM modules
// may) and proves it by reading each back. The jails and the session's monitor it forks then
// drop and check only what is left, instead of every capability the kernel knows (about 80
// system calls fewer in each). Not called rootless: there is nothing to drop.
Status NarrowBoundingSet(const std::vector<int>& keep);

// Becomes uid and gid (not root) with no supplementary groups and no capabilities in any set,
// as a jail does (the keeper, where it keeps nothing for REIN or PAM).
Status DropToUser(const char* name, uid_t uid, gid_t gid);

// Why the jails cannot start rootless, for the log and --check-config: errno_value from
// clone(CLONE_NEWUSER) or unshare(CLONE_NEWUSER), with what to change.
std::string UserNamespaceRefused(int errno_value);

// The session's monitor, confined once it has started the session jail, as tightly as its work
// allows: chrooted into root (secure_chroot_dir, empty), the session's ids, no capabilities but
// the listed ones (chown_uploads: CAP_CHOWN; connect_from_port_20 below 1024:
// CAP_NET_BIND_SERVICE), bounding set empty, dies with parent, no processes, no core, few files,
// bounded address space, no_new_privs, not dumpable, its seccomp policy (sandbox.h). It keeps
// its descriptors: the channels, the journal's socket, the transfer logs.
struct MonitorJailSpec {
  std::string root;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<int> capabilities;  // kept in the effective and permitted sets
  pid_t parent = 0;               // the keeper: dies with it
  bool rootless = false;          // a new user namespace gives it the right to chroot
  bool seccomp = true;
  MonitorSandbox sandbox;
};
Status ConfineMonitor(const MonitorJailSpec& spec);

// How EnterJail's refusal of a root the jail's user can write begins (the rest names the
// directory and the fixes, for the log): the only failure whose reason the client is told.
inline constexpr char kWritableRootRefusal[] =
    "refusing to run with a root directory the user can write";

// Returns only when the calling process is inside the jail. On failure the process is in an
// undefined half-dropped state: the caller reports and exits.
Status EnterJail(const JailSpec& spec, std::initializer_list<int> keep_fds);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_JAIL_START_H_
