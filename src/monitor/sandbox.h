// Seccomp allowlists, one per jail kind and one for the session's monitor. Each policy is a list
// in sandbox_policy.cc with one line per syscall and a comment saying who needs it; the build
// compiles them into BPF with libseccomp once (sandbox_filters.h), so no process runs libseccomp.
// Installed by each jail, and by the session's monitor, on itself after dropping privileges.
//
// Anything else traps: a SIGSYS handler (async-signal-safe, raw syscalls only) reports the
// syscall number to the monitor in a SECCOMP_REPORT message and ends the process at once. The
// syscall itself never runs. A process that cannot run the handler dies of SIGSYS, which the
// monitor reports too.
#ifndef KEEPFTPD_SRC_MONITOR_SANDBOX_H_
#define KEEPFTPD_SRC_MONITOR_SANDBOX_H_

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "status.h"

// True in builds with AddressSanitizer or UndefinedBehaviorSanitizer (meson -Db_sanitize=...):
// their runtimes need a few more calls (sandbox_policy.cc).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define KEEPFTPD_SANITIZED 1
#else
#define KEEPFTPD_SANITIZED 0
#endif

namespace keepftpd {

// kSessionWrite: the session jail with write_enable=YES (uploads, DELE, MKD, RNFR, ...).
// kTls: the TLS jail (relays, handshakes, socket pairs for data connections).
enum class SandboxKind { kPrelogin, kSession, kSessionWrite, kTls };

// Installs the filter for this jail kind; violations are reported on report_fd (the jail's
// channel to the monitor). PR_SET_NO_NEW_PRIVS must already be set.
// log_only (seccomp_log_only, for diagnosing a policy): a forbidden call runs, and the kernel
// logs it as an audit record (type=1326, with the pid and the syscall number) instead.
Status InstallSandbox(SandboxKind kind, int report_fd, bool log_only = false);

// The session's monitor after login: what serving the session jail's requests needs, and no
// file system call at all (it is chrooted into an empty directory, and everything it writes to
// was opened before). A forbidden call stores its number + 1 in *report (memory shared with the
// keeper, which logs it once the monitor is gone) and ends the process with kSeccompExitStatus.
struct MonitorSandbox {
  std::vector<pid_t> children;   // the only processes it may signal (SIGKILL) and wait for:
                                 // the session's jails (one or two; 0 and -1 are skipped)
  bool chown_uploads = false;    // fchmod and fchown of an anonymous upload
  bool log_only = false;         // seccomp_log_only
  volatile std::uint32_t* report = nullptr;
};
Status InstallMonitorSandbox(const MonitorSandbox& policy);

// The version of libseccomp the filters were compiled with ("2.5.4"), for --features --json.
const char* SeccompCompiledWith();

// The name of this architecture's system call nr ("ptrace"), or nullptr if it has none.
const char* SyscallName(std::uint32_t nr);

// The exit status of a jail stopped by its seccomp filter (128 + SIGSYS, as a shell shows it).
inline constexpr int kSeccompExitStatus = 159;

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_SANDBOX_H_
