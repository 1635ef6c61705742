// The monitor's per-phase request tables. Monitor only.
#include "monitor_table.h"

#include <string>

namespace keepftpd {

namespace {

// Body limits: LOGIN = 2 length fields + user + password; LOG = priority + length + text;
// PORT_CONNECT = family + 16 address bytes + port.
constexpr std::size_t kLoginMax = 2 + kMaxUserName + 2 + kMaxPassword + 1;
constexpr std::size_t kLogMax = 1 + 2 + kMaxLogText;
constexpr std::size_t kPortConnectMax = 1 + 16 + 2 + 1;
constexpr std::size_t kSeccompReportMax = 4;
constexpr std::size_t kProxyInfoMax = 1 + 1 + 16 + 2 + 16 + 2;
constexpr std::size_t kEventMax = 1 + 2 + kMaxEventText + 2 + kMaxEventCommand + 2 +
                                  kMaxEventPath + 8 + 8 + 2 + kMaxEventResult + 1;

constexpr MonitorRule kPreloginRules[] = {
    {MsgType::kLogin, kLoginMax, false},
    {MsgType::kProxyInfo, kProxyInfoMax, false},
    {MsgType::kLog, kLogMax, false},
    {MsgType::kSeccompReport, kSeccompReportMax, false},
    {MsgType::kStartTls, 0, false},
};

constexpr MonitorRule kSessionRules[] = {
    {MsgType::kPasvListen, 0, false},
    {MsgType::kDataAccept, 1, false},
    {MsgType::kDataCancel, 0, false},
    {MsgType::kTlsData, 0, false},
    {MsgType::kTlsUploadEnd, 1, false},
    {MsgType::kEvent, kEventMax, false},
    {MsgType::kPortConnect, kPortConnectMax, false},
    {MsgType::kReinit, 0, false},
    {MsgType::kChownUpload, 0, true},
    {MsgType::kLog, kLogMax, false},
    {MsgType::kSeccompReport, kSeccompReportMax, false},
};

constexpr MonitorRule kClosingRules[] = {
    {MsgType::kLog, kLogMax, false},
    {MsgType::kEvent, kEventMax, false},
    {MsgType::kSeccompReport, kSeccompReportMax, false},
};

}  // namespace

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPrelogin: return "pre-login";
    case Phase::kSession: return "session";
    case Phase::kClosing: return "closing";
  }
  return "unknown";
}

std::span<const MonitorRule> RulesForPhase(Phase phase) {
  switch (phase) {
    case Phase::kPrelogin: return kPreloginRules;
    case Phase::kSession: return kSessionRules;
    case Phase::kClosing: return kClosingRules;
  }
  return {};
}

Status ValidateRequest(Phase phase, MsgType type, std::size_t body_len, bool has_fd) {
  for (const MonitorRule& rule : RulesForPhase(phase)) {
    if (rule.type != type) continue;
    if (body_len > rule.max_body) {
      return Status::Error(std::string(MsgTypeName(type)) + " body of " +
                           std::to_string(body_len) + " bytes exceeds " +
                           std::to_string(rule.max_body));
    }
    if (has_fd && !rule.fd_allowed) {
      return Status::Error(std::string(MsgTypeName(type)) + " carries an unexpected descriptor");
    }
    return Status::Ok();
  }
  return Status::Error("request " + std::to_string(static_cast<unsigned>(type)) + " (" +
                       MsgTypeName(type) + ") is not allowed in the " + PhaseName(phase) +
                       " phase");
}

}  // namespace keepftpd
