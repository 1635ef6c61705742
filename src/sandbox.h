// Seccomp allowlists, one per jail kind, built with libseccomp. Default action: kill the process.
// Each policy is a list with one line per syscall and a comment saying who needs it. Installed by
// each jail on itself after dropping privileges. Jails only.
#ifndef KEEPFTPD_SRC_SANDBOX_H_
#define KEEPFTPD_SRC_SANDBOX_H_

#include "status.h"

namespace keepftpd {

enum class SandboxKind { kPrelogin, kSession };

// Installs the filter for this jail kind. PR_SET_NO_NEW_PRIVS must already be set.
Status InstallSandbox(SandboxKind kind);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_SANDBOX_H_
