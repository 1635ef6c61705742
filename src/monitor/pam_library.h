// Linux-PAM is not linked into keepftpd: each connection execs keepftpd afresh, and loading
// libpam (with libaudit behind it) at every start cost every session, though anonymous sessions
// never use PAM (bench/README.md). The monitor loads it at the first login that needs it, before
// pam_start; the session's monitor, forked after that login, inherits it. Jails never use PAM.
#ifndef KEEPFTPD_SRC_MONITOR_PAM_LIBRARY_H_
#define KEEPFTPD_SRC_MONITOR_PAM_LIBRARY_H_

#include "status.h"

namespace keepftpd {

// Loads it once (later calls only return the first result). The binary's build resolves PAM's
// functions through it (pam_dlopen.cc); the test programs link libpam and get a version that does
// nothing (pam_linked.cc).
Status LoadPam();

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_PAM_LIBRARY_H_
