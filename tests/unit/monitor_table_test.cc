// Tests for src/monitor/monitor_table.cc: every request type is accepted only in its documented phases,
// within its size limit and without a descriptor; everything else is refused.
#include "monitor_table.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "ipc_messages.h"

namespace keepftpd {
namespace {

constexpr Phase kAllPhases[] = {Phase::kPrelogin, Phase::kSession, Phase::kClosing};

constexpr MsgType kAllTypes[] = {
    MsgType::kLogin,         MsgType::kLog,         MsgType::kPasvListen,
    MsgType::kDataAccept,    MsgType::kPortConnect, MsgType::kSeccompReport,
    MsgType::kReinit,        MsgType::kChownUpload, MsgType::kLoginResult,
    MsgType::kPasvListenResult, MsgType::kDataResult, MsgType::kChownResult,
    MsgType::kStartTls,      MsgType::kTlsData,     MsgType::kTlsWrap,
    MsgType::kTlsWrapResult, MsgType::kStartTlsResult, MsgType::kTlsUploadEnd,
    MsgType::kTlsDataEnd,    MsgType::kTlsUploadEndResult, MsgType::kEvent,
    MsgType::kDataCancel,    MsgType::kProxyInfo,   MsgType::kProxyInfoResult,
    MsgType::kTlsReady,      MsgType::kTlsStart,
};

// The documented policy, written out independently of the table.
// LOGIN {str user, str password}; LOG {u8 priority, str text};
// PORT_CONNECT {u8 family, bytes[16] at most, u16 port}; the rest have empty bodies.
constexpr std::size_t kLoginMax = 2 + kMaxUserName + 2 + kMaxPassword + 1;
constexpr std::size_t kLogMax = 1 + 2 + kMaxLogText;
constexpr std::size_t kPortConnectMax = 1 + 16 + 2 + 1;
constexpr std::size_t kSeccompReportMax = 4;  // u32 syscall number
// EVENT {u8 prio, str text <= 512, str command <= 16, str path <= 1024, u64, u64,
// str result <= 32, u8 transfer type}
constexpr std::size_t kEventMax = 1 + (2 + 512) + (2 + 16) + (2 + 1024) + 8 + 8 + (2 + 32) + 1;

struct Expected {
  Phase phase;
  MsgType type;
  std::size_t max_body;
};

constexpr Expected kAllowed[] = {
    {Phase::kPrelogin, MsgType::kLogin, kLoginMax},
    {Phase::kPrelogin, MsgType::kProxyInfo, 1 + 1 + 16 + 2 + 16 + 2},
    {Phase::kPrelogin, MsgType::kLog, kLogMax},
    {Phase::kPrelogin, MsgType::kSeccompReport, kSeccompReportMax},
    {Phase::kPrelogin, MsgType::kStartTls, 0},
    {Phase::kSession, MsgType::kPasvListen, 0},
    {Phase::kSession, MsgType::kDataAccept, 1},
    {Phase::kSession, MsgType::kDataCancel, 0},
    {Phase::kSession, MsgType::kTlsData, 0},
    {Phase::kSession, MsgType::kTlsUploadEnd, 1},
    {Phase::kSession, MsgType::kEvent, kEventMax},
    {Phase::kClosing, MsgType::kEvent, kEventMax},
    {Phase::kSession, MsgType::kPortConnect, kPortConnectMax},
    {Phase::kSession, MsgType::kReinit, 0},
    {Phase::kSession, MsgType::kChownUpload, 0},
    {Phase::kSession, MsgType::kLog, kLogMax},
    {Phase::kSession, MsgType::kSeccompReport, kSeccompReportMax},
    {Phase::kClosing, MsgType::kLog, kLogMax},
    {Phase::kClosing, MsgType::kSeccompReport, kSeccompReportMax},
};

const Expected* FindAllowed(Phase phase, MsgType type) {
  for (const Expected& e : kAllowed) {
    if (e.phase == phase && e.type == type) return &e;
  }
  return nullptr;
}

std::string Describe(Phase phase, MsgType type) {
  return std::string(PhaseName(phase)) + " / " + MsgTypeName(type);
}

TEST_CASE("Each request is accepted in its phases up to its size limit") {
  for (const Expected& e : kAllowed) {
    CAPTURE(Describe(e.phase, e.type));
    CHECK(ValidateRequest(e.phase, e.type, 0, false).ok());
    CHECK(ValidateRequest(e.phase, e.type, e.max_body, false).ok());
  }
}

TEST_CASE("Each request is refused when its body is one byte too long") {
  for (const Expected& e : kAllowed) {
    CAPTURE(Describe(e.phase, e.type));
    Status s = ValidateRequest(e.phase, e.type, e.max_body + 1, false);
    CHECK_FALSE(s.ok());
    CHECK_FALSE(s.message().empty());
    CHECK_FALSE(ValidateRequest(e.phase, e.type, kMaxMessageBody + 1, false).ok());
    CHECK_FALSE(ValidateRequest(e.phase, e.type, static_cast<std::size_t>(-1), false).ok());
  }
}

TEST_CASE("Only CHOWN_UPLOAD, in the session, may carry a descriptor to the monitor") {
  for (Phase phase : kAllPhases) {
    for (MsgType type : kAllTypes) {
      CAPTURE(Describe(phase, type));
      bool allowed = phase == Phase::kSession && type == MsgType::kChownUpload;
      CHECK(ValidateRequest(phase, type, 0, true).ok() == allowed);
    }
  }
}

TEST_CASE("Every request is refused in every phase it is not listed for") {
  int refused = 0;
  for (Phase phase : kAllPhases) {
    for (MsgType type : kAllTypes) {
      if (FindAllowed(phase, type) != nullptr) continue;
      CAPTURE(Describe(phase, type));
      Status s = ValidateRequest(phase, type, 0, false);
      CHECK_FALSE(s.ok());
      CHECK(s.message().find(PhaseName(phase)) != std::string::npos);
      ++refused;
    }
  }
  // 3 phases x 26 types, 19 allowed.
  CHECK(refused == 3 * 26 - 19);
}

TEST_CASE("Specific refusals a jail could attempt") {
  // LOGIN after login, or while leaving.
  CHECK_FALSE(ValidateRequest(Phase::kSession, MsgType::kLogin, 10, false).ok());
  CHECK_FALSE(ValidateRequest(Phase::kClosing, MsgType::kLogin, 10, false).ok());
  // Data connections before login.
  CHECK_FALSE(ValidateRequest(Phase::kPrelogin, MsgType::kPasvListen, 0, false).ok());
  CHECK_FALSE(ValidateRequest(Phase::kPrelogin, MsgType::kDataAccept, 0, false).ok());
  CHECK_FALSE(ValidateRequest(Phase::kPrelogin, MsgType::kPortConnect, 7, false).ok());
  CHECK_FALSE(ValidateRequest(Phase::kClosing, MsgType::kPortConnect, 7, false).ok());
  // REINIT only from a logged-in session, not before login nor while leaving.
  CHECK_FALSE(ValidateRequest(Phase::kPrelogin, MsgType::kReinit, 0, false).ok());
  CHECK_FALSE(ValidateRequest(Phase::kClosing, MsgType::kReinit, 0, false).ok());
  CHECK_FALSE(ValidateRequest(Phase::kSession, MsgType::kReinit, 1, false).ok());
  // A seccomp report is a syscall number and nothing else.
  CHECK_FALSE(ValidateRequest(Phase::kSession, MsgType::kSeccompReport, 5, false).ok());
  CHECK_FALSE(ValidateRequest(Phase::kPrelogin, MsgType::kSeccompReport, 4, true).ok());
  // Answers travel monitor -> jail only.
  CHECK_FALSE(ValidateRequest(Phase::kSession, MsgType::kDataResult, 0, false).ok());
  CHECK_FALSE(ValidateRequest(Phase::kSession, MsgType::kDataResult, 0, true).ok());
  // A type number that does not exist.
  CHECK_FALSE(ValidateRequest(Phase::kSession, static_cast<MsgType>(999), 0, false).ok());
  // The retired HASH_FILE (17) and HASH_RESULT (109): HASH is computed in the session jail.
  for (Phase phase : kAllPhases) {
    CAPTURE(PhaseName(phase));
    CHECK_FALSE(ValidateRequest(phase, static_cast<MsgType>(17), 1, false).ok());
    CHECK_FALSE(ValidateRequest(phase, static_cast<MsgType>(17), 1, true).ok());
    CHECK_FALSE(ValidateRequest(phase, static_cast<MsgType>(109), 0, false).ok());
  }
  CHECK_FALSE(ValidateRequest(Phase::kPrelogin, static_cast<MsgType>(0), 0, false).ok());
  // Empty-body requests with a body.
  CHECK_FALSE(ValidateRequest(Phase::kSession, MsgType::kPasvListen, 1, false).ok());
}

TEST_CASE("The rule tables match the documented policy") {
  for (Phase phase : kAllPhases) {
    CAPTURE(PhaseName(phase));
    std::vector<MsgType> seen;
    for (const MonitorRule& rule : RulesForPhase(phase)) {
      CAPTURE(MsgTypeName(rule.type));
      const Expected* e = FindAllowed(phase, rule.type);
      CHECK(e != nullptr);
      if (e != nullptr) CHECK(rule.max_body == e->max_body);
      CHECK(rule.fd_allowed == (rule.type == MsgType::kChownUpload));
      CHECK(rule.max_body <= kMaxMessageBody);
      if (rule.fd_allowed) CHECK(MessageCarriesFd(rule.type));
      for (MsgType t : seen) CHECK(t != rule.type);  // each type listed once per phase
      seen.push_back(rule.type);
    }
    std::size_t expected_count = 0;
    for (const Expected& e : kAllowed) expected_count += e.phase == phase ? 1 : 0;
    CHECK(seen.size() == expected_count);
  }
}

TEST_CASE("Phase and message names are readable") {
  CHECK(std::string(PhaseName(Phase::kPrelogin)) == "pre-login");
  CHECK(std::string(PhaseName(Phase::kSession)) == "session");
  CHECK(std::string(PhaseName(Phase::kClosing)) == "closing");
  for (MsgType type : kAllTypes) {
    CHECK(std::string(MsgTypeName(type)) != "UNKNOWN");
  }
  CHECK(MessageCarriesFd(MsgType::kDataResult));
  CHECK_FALSE(MessageCarriesFd(MsgType::kLogin));
}

}  // namespace
}  // namespace keepftpd
