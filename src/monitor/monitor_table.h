// The monitor's policy as data: for each phase of a connection, the requests a jail may send,
// whether a descriptor may come with them and how long their body may be. Anything else ends the
// connection. Used by the monitor only; pure, so the unit tests can walk every phase.
#ifndef KEEPFTPD_SRC_MONITOR_MONITOR_TABLE_H_
#define KEEPFTPD_SRC_MONITOR_MONITOR_TABLE_H_

#include <cstddef>
#include <span>

#include "ipc_messages.h"
#include "status.h"

namespace keepftpd {

enum class Phase {
  kPrelogin,  // the pre-login jail talks: banner, USER, PASS
  kSession,   // the session jail talks: logged in
  kClosing,   // a jail said it is leaving (REIN, after a login): only log records
};

const char* PhaseName(Phase phase);

struct MonitorRule {
  MsgType type;
  std::size_t max_body;  // bytes
  bool fd_allowed;       // a descriptor may ride with it (CHOWN_UPLOAD only)
};

// The rules of one phase.
std::span<const MonitorRule> RulesForPhase(Phase phase);

// OK when a request of this type, body length and descriptor presence is acceptable now;
// otherwise a Status saying why (the caller then ends the connection).
Status ValidateRequest(Phase phase, MsgType type, std::size_t body_len, bool has_fd);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_MONITOR_TABLE_H_
