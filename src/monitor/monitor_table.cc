// The monitor's request rules (monitor_requests.def) and their admission. Monitor only.
#include "monitor_table.h"

#include <string>
#include <utility>

namespace keepftpd {

namespace {

// Body limits: each the largest body its decoder accepts (requests.h).
constexpr std::size_t kLoginMax = 2 + kMaxUserName + 2 + kMaxPassword + 1;
constexpr std::size_t kLogMax = 1 + 2 + kMaxLogText;
constexpr std::size_t kPortConnectMax = 1 + 16 + 2 + 1;
constexpr std::size_t kProxyInfoMax = 1 + 1 + 16 + 2 + 16 + 2;
constexpr std::size_t kEventMax = 1 + 2 + kMaxEventText + 2 + kMaxEventCommand + 2 +
                                  kMaxEventPath + 8 + 8 + 2 + kMaxEventResult + 1 + 2 +
                                  kMaxEventPath;
constexpr std::size_t kTlsReadyMax = 1 + 2 + kMaxLogText;
constexpr std::size_t kTlsWrapResultMax = 1 + 2 + kMaxLogText;

template <typename R>
Status DecodeAs(MsgType, std::string_view body, RequestBody* out) {
  R request;
  Status s = Decode(body, &request);
  if (s.ok()) *out = std::move(request);
  return s;
}

template <>
Status DecodeAs<EmptyRequest>(MsgType type, std::string_view body, RequestBody* out) {
  *out = EmptyRequest{};
  return DecodeEmpty(type, body);
}

constexpr RequestRule kRules[] = {
#define REQUEST(TYPE, PHASES, MAX_BODY, FD, FLAGS, BODY, HANDLER) \
  {MsgType::TYPE, static_cast<PhaseSet>(PHASES), MAX_BODY, FD, FLAGS, &DecodeAs<BODY>},
#include "monitor_requests.def"
#undef REQUEST
};
static_assert(std::size(kRules) <= 32, "Admissions keeps one bit per row");

}  // namespace

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPrelogin: return "pre-login";
    case Phase::kSession: return "session";
    case Phase::kDataWait: return "data connection wait";
    case Phase::kClosing: return "closing";
    case Phase::kTlsJail: return "tls jail";
    case Phase::kTlsWrap: return "tls wrap";
  }
  return "unknown";
}

std::span<const RequestRule> RequestRules() { return kRules; }

Result<Admitted> AdmitRequest(Admissions& state, Phase phase, MsgType type, std::string_view body,
                              bool has_fd) {
  std::size_t row = 0;
  while (row < std::size(kRules) && kRules[row].type != type) ++row;
  if (row == std::size(kRules) || (kRules[row].phases & In(phase)) == 0) {
    return Status::Error("request " + std::to_string(static_cast<unsigned>(type)) + " (" +
                         MsgTypeName(type) + ") is not allowed in the " + PhaseName(phase) +
                         " phase");
  }
  const RequestRule& rule = kRules[row];
  const std::uint32_t bit = 1u << row;
  std::uint32_t& seen_jail = state.seen_jail[IsTlsPhase(phase) ? 1 : 0];
  std::string why;  // the first rule of the row it breaks
  if (body.size() > rule.max_body) {
    why = "a body of " + std::to_string(body.size()) + " bytes exceeds " +
          std::to_string(rule.max_body);
  } else if (has_fd && rule.fd == FdRule::kNone) {
    why = "an unexpected descriptor";
  } else if (!has_fd && rule.fd == FdRule::kRequired) {
    why = "no descriptor where one belongs";
  } else if ((rule.flags & kOncePerJail) != 0 && (seen_jail & bit) != 0) {
    why = "a second one from the same jail";
  } else if ((rule.flags & kOncePerConnection) != 0 && (state.seen_connection & bit) != 0) {
    why = "a second one on the connection";
  } else if ((rule.flags & kProxyHeader) != 0 && !state.awaiting_proxy) {
    why = "no PROXY header is expected (proxy_protocol=NO)";
  } else if ((rule.flags & kAfterProxyHeader) != 0 && state.awaiting_proxy) {
    why = "before PROXY_INFO";
  }
  if (!why.empty()) {
    return Status::Error(std::string(MsgTypeName(type)) + " in the " + PhaseName(phase) +
                         " phase: " + why);
  }
  Admitted admitted;
  admitted.row = row;
  if (Status s = rule.decode(type, body, &admitted.body); !s.ok()) return s;
  seen_jail |= bit;
  state.seen_connection |= bit;
  if ((rule.flags & kProxyHeader) != 0) state.awaiting_proxy = false;
  return admitted;
}

}  // namespace keepftpd
