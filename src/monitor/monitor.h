// The privileged monitor of one connection: starts the pre-login jail, answers the requests its
// table allows (monitor_requests.def), starts the session jail after a login, and ends the
// connection when any jail dies or misbehaves. Never reads the control connection.
// Monitor process only (root, trimmed).
#ifndef KEEPFTPD_SRC_MONITOR_MONITOR_H_
#define KEEPFTPD_SRC_MONITOR_MONITOR_H_

#include "config.h"
#include "session.h"

namespace keepftpd {

[[noreturn]] void RunMonitor(const Config& config, const SessionInfo& session);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_MONITOR_H_
