// The monitor's policy as data: a row per message a jail may send (monitor_requests.def).
// AdmitRequest applies a row and decodes the body with requests.h's decoder; the monitor then
// calls the row's handler (monitor.cc). Monitor only; pure, so the unit tests and the fuzz target
// run the very code the monitor runs.
#ifndef KEEPFTPD_SRC_MONITOR_MONITOR_TABLE_H_
#define KEEPFTPD_SRC_MONITOR_MONITOR_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "ipc_messages.h"
#include "requests.h"
#include "status.h"

namespace keepftpd {

// Where the monitor is when a message arrives: which channel it reads, and what it waits for.
enum class Phase : std::uint8_t {
  kPrelogin,  // the pre-login jail's channel: banner, USER, PASS
  kSession,   // the session jail's channel: logged in
  kDataWait,  // the session jail's, while the monitor waits for a passive data connection
  kClosing,   // the channel of a jail that said it is leaving (a login, REIN, a seccomp report)
  kTlsJail,   // the TLS jail's channel: its reports
  kTlsWrap,   // the TLS jail's, while the monitor waits for its TLS_WRAP_RESULT
};

const char* PhaseName(Phase phase);
// Whether the TLS jail speaks on the phase's channel (else a protocol jail).
constexpr bool IsTlsPhase(Phase p) { return p == Phase::kTlsJail || p == Phase::kTlsWrap; }

using PhaseSet = std::uint8_t;
constexpr PhaseSet In(Phase p) { return static_cast<PhaseSet>(1u << static_cast<unsigned>(p)); }

enum class FdRule : std::uint8_t {
  kNone,      // a descriptor with it ends the connection
  kRequired,  // CHOWN_UPLOAD: the file
  kOptional,  // TLS_WRAP_RESULT: the plaintext end, when it says ok (its handler checks)
};

// How often a message may come. Any other message may come any number of times.
enum RequestFlags : std::uint8_t {
  kOncePerJail = 1,        // at most once from each jail (each pre-login, session or TLS jail)
  kOncePerConnection = 2,  // at most once on the whole connection
  kProxyHeader = 4,        // PROXY_INFO: only while one is awaited (proxy_protocol), which ends
                           // the wait
  kAfterProxyHeader = 8,   // refused while a PROXY_INFO is awaited
};

// An empty body (DecodeEmpty): PASV_LISTEN, DATA_CANCEL, TLS_DATA, REINIT, CHOWN_UPLOAD and
// START_TLS.
struct EmptyRequest {};

// A decoded request, of the type its row names.
using RequestBody =
    std::variant<EmptyRequest, LoginRequest, LogRequest, EventRequest, PortConnectRequest,
                 ProxyInfoRequest, SeccompReport, DataAcceptRequest, TlsDataStatusRequest,
                 TlsReadyReport, TlsDataEndReport, TlsWrapAnswer>;

struct RequestRule {
  MsgType type;
  PhaseSet phases;       // where it may come
  std::size_t max_body;  // bytes
  FdRule fd;
  std::uint8_t flags;    // RequestFlags
  // The row's decoder (requests.h), into its request struct.
  Status (*decode)(MsgType type, std::string_view body, RequestBody* out);
};

// Every row, in monitor_requests.def's order (which the handlers' table in monitor.cc follows).
std::span<const RequestRule> RequestRules();

struct Admitted {
  std::size_t row = 0;  // index into RequestRules()
  RequestBody body;
};

// What the monitor has admitted so far on this connection, for the rows' flags. Written only by
// AdmitRequest, and by NewJail.
struct Admissions {
  explicit Admissions(bool await_proxy_header = false) : awaiting_proxy(await_proxy_header) {}
  // A new jail speaks on the protocol channel (pre-login or session), or a new TLS jail.
  void NewJail(bool tls) { seen_jail[tls ? 1 : 0] = 0; }

  std::uint32_t seen_connection = 0;  // one bit per row
  std::uint32_t seen_jail[2] = {};    // the protocol jail's, the TLS jail's
  bool awaiting_proxy = false;        // proxy_protocol: the PROXY_INFO has not come yet
};

// Whether a message of this type, body and descriptor presence may be acted on in this phase,
// and if so its row and decoded body; *state then records it. Otherwise a Status saying why: the
// caller ends the connection.
Result<Admitted> AdmitRequest(Admissions& state, Phase phase, MsgType type, std::string_view body,
                              bool has_fd);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_MONITOR_TABLE_H_
