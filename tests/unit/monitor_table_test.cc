// Tests for src/monitor/monitor_table.cc: every message a jail may send is admitted only in its
// documented phases, within its size limit, with a descriptor only where one belongs, as often
// as its flags allow, and only when its body decodes; everything else is refused.
#include "monitor_table.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ipc_messages.h"
#include "requests.h"
#include "sockaddr.h"

namespace keepftpd {
namespace {

constexpr Phase kAllPhases[] = {Phase::kPrelogin, Phase::kSession, Phase::kDataWait,
                                Phase::kClosing,  Phase::kTlsJail, Phase::kTlsWrap};

constexpr MsgType kAllTypes[] = {
    MsgType::kLogin,         MsgType::kLog,         MsgType::kPasvListen,
    MsgType::kDataAccept,    MsgType::kPortConnect, MsgType::kSeccompReport,
    MsgType::kReinit,        MsgType::kChownUpload, MsgType::kLoginResult,
    MsgType::kPasvListenResult, MsgType::kDataResult, MsgType::kChownResult,
    MsgType::kStartTls,      MsgType::kTlsData,     MsgType::kTlsWrap,
    MsgType::kTlsWrapResult, MsgType::kStartTlsResult, MsgType::kTlsDataStatus,
    MsgType::kTlsDataEnd,    MsgType::kTlsDataStatusResult, MsgType::kEvent,
    MsgType::kDataCancel,    MsgType::kProxyInfo,   MsgType::kProxyInfoResult,
    MsgType::kTlsReady,      MsgType::kTlsStart,
};

// The documented policy (ipc_messages.h), written out independently of the table.
constexpr PhaseSet kPre = In(Phase::kPrelogin), kSes = In(Phase::kSession),
                   kWait = In(Phase::kDataWait), kClo = In(Phase::kClosing),
                   kTls = In(Phase::kTlsJail), kWrap = In(Phase::kTlsWrap);

struct Expected {
  MsgType type;
  PhaseSet phases;
  FdRule fd;
  std::uint8_t flags;
};

constexpr Expected kPolicy[] = {
    {MsgType::kLog, kPre | kSes | kClo | kTls | kWrap, FdRule::kNone, 0},
    {MsgType::kEvent, kSes | kClo, FdRule::kNone, 0},
    {MsgType::kSeccompReport, kPre | kSes | kClo | kTls | kWrap, FdRule::kNone, kOncePerJail},
    {MsgType::kProxyInfo, kPre, FdRule::kNone, kOncePerConnection | kProxyHeader},
    {MsgType::kLogin, kPre, FdRule::kNone, kAfterProxyHeader},
    {MsgType::kStartTls, kPre, FdRule::kNone, kAfterProxyHeader},
    {MsgType::kPasvListen, kSes, FdRule::kNone, 0},
    {MsgType::kDataAccept, kSes, FdRule::kNone, 0},
    {MsgType::kDataCancel, kSes | kWait, FdRule::kNone, 0},
    {MsgType::kPortConnect, kSes, FdRule::kNone, 0},
    {MsgType::kTlsData, kSes, FdRule::kNone, 0},
    {MsgType::kTlsDataStatus, kSes, FdRule::kNone, 0},
    {MsgType::kChownUpload, kSes, FdRule::kRequired, 0},
    {MsgType::kReinit, kSes, FdRule::kNone, kOncePerJail},
    {MsgType::kTlsReady, kTls, FdRule::kNone, kOncePerJail},
    {MsgType::kTlsDataEnd, kTls | kWrap, FdRule::kNone, 0},
    {MsgType::kTlsWrapResult, kWrap, FdRule::kOptional, 0},
};

const Expected* Find(MsgType type) {
  for (const Expected& e : kPolicy) {
    if (e.type == type) return &e;
  }
  return nullptr;
}

SockAddr V6(std::uint8_t last, std::uint16_t port) {
  std::uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
  a[15] = last;
  return SockAddr::V6(a, port);
}

// The longest well-formed body of each request (every string at its limit, IPv6 addresses).
std::string LongestBody(MsgType type) {
  switch (type) {
    case MsgType::kLogin:
      return Encode(LoginRequest{std::string(kMaxUserName, 'u'), std::string(kMaxPassword, 'p'),
                                 true});
    case MsgType::kLog: return Encode(LogRequest{7, std::string(kMaxLogText, 'x')});
    case MsgType::kEvent: {
      EventRequest e;
      e.priority = 6;
      e.text = std::string(kMaxEventText, 't');
      e.command = std::string(kMaxEventCommand, 'C');
      e.path = std::string(kMaxEventPath, 'p');
      e.bytes = ~0ull;
      e.duration_usec = ~0ull;
      e.result = std::string(kMaxEventResult, 'r');
      e.transfer_type = 'b';
      e.target = std::string(kMaxEventPath, 'T');
      return Encode(e);
    }
    case MsgType::kSeccompReport: return Encode(SeccompReport{0xffffffffu});
    case MsgType::kProxyInfo: return Encode(ProxyInfoRequest{true, V6(1, 40000), V6(2, 21)});
    case MsgType::kPortConnect: return Encode(PortConnectRequest{V6(1, 40000), true});
    case MsgType::kDataAccept: return Encode(DataAcceptRequest{true});
    case MsgType::kTlsDataStatus: return Encode(TlsDataStatusRequest{true});
    case MsgType::kTlsReady: return Encode(TlsReadyReport{false, std::string(kMaxLogText, 'e')});
    case MsgType::kTlsDataEnd: return Encode(TlsDataEndReport{3});
    case MsgType::kTlsWrapResult:
      return Encode(TlsWrapAnswer{false, std::string(kMaxLogText, 'm')});
    default: return "";  // no body
  }
}

// A fresh connection's state, with the PROXY header already seen or not expected, so that each
// request meets only its phase rule.
Status Admit(Phase phase, MsgType type, std::string_view body, bool fd = false) {
  Admissions state;
  Result<Admitted> r = AdmitRequest(state, phase, type, body, fd);
  return r.status();
}

std::string Describe(Phase phase, MsgType type) {
  return std::string(PhaseName(phase)) + " / " + MsgTypeName(type);
}

TEST_CASE("Each request is admitted exactly in its documented phases") {
  int admitted = 0;
  for (Phase phase : kAllPhases) {
    for (MsgType type : kAllTypes) {
      CAPTURE(Describe(phase, type));
      const Expected* e = Find(type);
      const bool allowed = e != nullptr && (e->phases & In(phase)) != 0 &&
                           (e->flags & kProxyHeader) == 0;  // PROXY_INFO: see below
      const bool fd = e != nullptr && e->fd == FdRule::kRequired;
      Status s = Admit(phase, type, LongestBody(type), fd);
      CHECK(s.ok() == allowed);
      if (!s.ok() && e == nullptr) {
        CHECK(s.message().find(PhaseName(phase)) != std::string::npos);
        CHECK(s.message().find(MsgTypeName(type)) != std::string::npos);
      }
      admitted += s.ok() ? 1 : 0;
    }
  }
  CHECK(admitted == 27);
}

TEST_CASE("Every well-formed body fits its limit; one byte more is refused before decoding") {
  for (const RequestRule& rule : RequestRules()) {
    CAPTURE(MsgTypeName(rule.type));
    CHECK(LongestBody(rule.type).size() == rule.max_body);
    CHECK(rule.max_body <= kMaxMessageBody);
    Phase phase = Phase::kPrelogin;
    while ((rule.phases & In(phase)) == 0) phase = static_cast<Phase>(static_cast<int>(phase) + 1);
    Admissions state(true);
    const bool fd = rule.fd == FdRule::kRequired;
    Status s = AdmitRequest(state, phase, rule.type, LongestBody(rule.type) + "x", fd).status();
    CHECK_FALSE(s.ok());
    CHECK(s.message().find("exceeds") != std::string::npos);
  }
}

TEST_CASE("The rows match the documented policy, one row per type") {
  std::vector<MsgType> seen;
  for (const RequestRule& rule : RequestRules()) {
    CAPTURE(MsgTypeName(rule.type));
    const Expected* e = Find(rule.type);
    CHECK(e != nullptr);
    if (e == nullptr) continue;
    CHECK(rule.phases == e->phases);
    CHECK(rule.fd == e->fd);
    CHECK(rule.flags == e->flags);
    CHECK(MessageCarriesFd(rule.type) == (rule.fd != FdRule::kNone));
    for (MsgType t : seen) CHECK(t != rule.type);
    seen.push_back(rule.type);
  }
  CHECK(seen.size() == std::size(kPolicy));
}

TEST_CASE("A descriptor comes only with CHOWN_UPLOAD, which needs one, and TLS_WRAP_RESULT") {
  for (Phase phase : kAllPhases) {
    for (MsgType type : kAllTypes) {
      CAPTURE(Describe(phase, type));
      const bool allowed =
          (phase == Phase::kSession && type == MsgType::kChownUpload) ||
          (phase == Phase::kTlsWrap && type == MsgType::kTlsWrapResult);
      CHECK(Admit(phase, type, LongestBody(type), true).ok() == allowed);
    }
  }
  Status s = Admit(Phase::kSession, MsgType::kChownUpload, "", false);
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("no descriptor") != std::string::npos);
  CHECK(Admit(Phase::kTlsWrap, MsgType::kTlsWrapResult, LongestBody(MsgType::kTlsWrapResult),
              false)
            .ok());
}

TEST_CASE("Malformed bodies are refused, naming the request; a refusal records nothing") {
  CHECK_FALSE(Admit(Phase::kPrelogin, MsgType::kLogin, "").ok());
  CHECK_FALSE(Admit(Phase::kSession, MsgType::kLog, Encode(LogRequest{8, "x"})).ok());
  Status s = Admit(Phase::kSession, MsgType::kReinit, "x");
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("REINIT") != std::string::npos);
  s = Admit(Phase::kSession, MsgType::kPasvListen, "x");
  CHECK(s.message().find("exceeds") != std::string::npos);
  // A malformed SECCOMP_REPORT does not use up the one a jail may send.
  Admissions state;
  CHECK_FALSE(AdmitRequest(state, Phase::kSession, MsgType::kSeccompReport, "abc", false).ok());
  CHECK(AdmitRequest(state, Phase::kSession, MsgType::kSeccompReport,
                     Encode(SeccompReport{1}), false).ok());
}

TEST_CASE("What admission decodes is what was sent") {
  Admissions state;
  Result<Admitted> r = AdmitRequest(state, Phase::kPrelogin, MsgType::kLogin,
                                    Encode(LoginRequest{"alice", "secret", false}), false);
  CHECK(r.ok());
  if (!r.ok()) return;
  CHECK(RequestRules()[r->row].type == MsgType::kLogin);
  CHECK(std::holds_alternative<LoginRequest>(r->body));
  if (!std::holds_alternative<LoginRequest>(r->body)) return;
  CHECK(std::get<LoginRequest>(r->body).user == "alice");
  CHECK(std::get<LoginRequest>(r->body).password == "secret");
}

TEST_CASE("Once per jail: a second SECCOMP_REPORT, REINIT or TLS_READY from one jail ends it") {
  Admissions state;
  const std::string report = Encode(SeccompReport{2});
  CHECK(AdmitRequest(state, Phase::kSession, MsgType::kSeccompReport, report, false).ok());
  Status s = AdmitRequest(state, Phase::kClosing, MsgType::kSeccompReport, report, false).status();
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("second") != std::string::npos);
  // The TLS jail is another jail; so is the next protocol jail.
  CHECK(AdmitRequest(state, Phase::kTlsJail, MsgType::kSeccompReport, report, false).ok());
  CHECK_FALSE(AdmitRequest(state, Phase::kTlsWrap, MsgType::kSeccompReport, report, false).ok());
  state.NewJail(false);
  CHECK(AdmitRequest(state, Phase::kPrelogin, MsgType::kSeccompReport, report, false).ok());
  CHECK_FALSE(AdmitRequest(state, Phase::kTlsJail, MsgType::kSeccompReport, report, false).ok());

  CHECK(AdmitRequest(state, Phase::kSession, MsgType::kReinit, "", false).ok());
  CHECK_FALSE(AdmitRequest(state, Phase::kSession, MsgType::kReinit, "", false).ok());

  const std::string ready = Encode(TlsReadyReport{true, ""});
  CHECK(AdmitRequest(state, Phase::kTlsJail, MsgType::kTlsReady, ready, false).ok());
  CHECK_FALSE(AdmitRequest(state, Phase::kTlsJail, MsgType::kTlsReady, ready, false).ok());
  state.NewJail(false);
  CHECK_FALSE(AdmitRequest(state, Phase::kTlsJail, MsgType::kTlsReady, ready, false).ok());
  state.NewJail(true);
  CHECK(AdmitRequest(state, Phase::kTlsJail, MsgType::kTlsReady, ready, false).ok());
  // Everything else may come any number of times.
  for (int i = 0; i < 3; ++i) {
    CHECK(AdmitRequest(state, Phase::kSession, MsgType::kPasvListen, "", false).ok());
    CHECK(AdmitRequest(state, Phase::kSession, MsgType::kLog, Encode(LogRequest{6, "x"}), false)
              .ok());
  }
}

TEST_CASE("proxy_protocol: PROXY_INFO once, first; without it, never") {
  const std::string info = LongestBody(MsgType::kProxyInfo);
  const std::string login = Encode(LoginRequest{"ftp", "x", false});
  Admissions waiting(true);
  CHECK_FALSE(AdmitRequest(waiting, Phase::kPrelogin, MsgType::kLogin, login, false).ok());
  CHECK_FALSE(AdmitRequest(waiting, Phase::kPrelogin, MsgType::kStartTls, "", false).ok());
  CHECK(AdmitRequest(waiting, Phase::kPrelogin, MsgType::kLog, Encode(LogRequest{6, "x"}), false)
            .ok());
  CHECK(AdmitRequest(waiting, Phase::kPrelogin, MsgType::kProxyInfo, info, false).ok());
  CHECK(AdmitRequest(waiting, Phase::kPrelogin, MsgType::kLogin, login, false).ok());
  CHECK(AdmitRequest(waiting, Phase::kPrelogin, MsgType::kStartTls, "", false).ok());
  // Once per connection: a new pre-login jail (REIN) may not send another.
  waiting.NewJail(false);
  Status s = AdmitRequest(waiting, Phase::kPrelogin, MsgType::kProxyInfo, info, false).status();
  CHECK_FALSE(s.ok());

  Admissions plain(false);
  s = AdmitRequest(plain, Phase::kPrelogin, MsgType::kProxyInfo, info, false).status();
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("proxy_protocol") != std::string::npos);
  CHECK(AdmitRequest(plain, Phase::kPrelogin, MsgType::kLogin, login, false).ok());
}

TEST_CASE("Specific refusals a jail could attempt") {
  const std::string port = LongestBody(MsgType::kPortConnect);
  // LOGIN after login, or while leaving.
  CHECK_FALSE(Admit(Phase::kSession, MsgType::kLogin, LongestBody(MsgType::kLogin)).ok());
  CHECK_FALSE(Admit(Phase::kClosing, MsgType::kLogin, LongestBody(MsgType::kLogin)).ok());
  // Data connections before login, while leaving, or while one is awaited.
  CHECK_FALSE(Admit(Phase::kPrelogin, MsgType::kPasvListen, "").ok());
  CHECK_FALSE(Admit(Phase::kPrelogin, MsgType::kPortConnect, port).ok());
  CHECK_FALSE(Admit(Phase::kClosing, MsgType::kPortConnect, port).ok());
  CHECK_FALSE(Admit(Phase::kDataWait, MsgType::kPortConnect, port).ok());
  CHECK_FALSE(Admit(Phase::kDataWait, MsgType::kLog, LongestBody(MsgType::kLog)).ok());
  // The TLS jail's reports come from the TLS jail only, and the protocol jails' from them.
  CHECK_FALSE(Admit(Phase::kSession, MsgType::kTlsDataEnd, LongestBody(MsgType::kTlsDataEnd)).ok());
  CHECK_FALSE(Admit(Phase::kPrelogin, MsgType::kTlsReady, LongestBody(MsgType::kTlsReady)).ok());
  CHECK_FALSE(Admit(Phase::kTlsJail, MsgType::kEvent, LongestBody(MsgType::kEvent)).ok());
  CHECK_FALSE(Admit(Phase::kTlsJail, MsgType::kLogin, LongestBody(MsgType::kLogin)).ok());
  // A TLS_WRAP_RESULT nobody asked for.
  CHECK_FALSE(
      Admit(Phase::kTlsJail, MsgType::kTlsWrapResult, LongestBody(MsgType::kTlsWrapResult)).ok());
  // Answers travel monitor -> jail only.
  CHECK_FALSE(Admit(Phase::kSession, MsgType::kDataResult, "").ok());
  CHECK_FALSE(Admit(Phase::kSession, MsgType::kDataResult, "", true).ok());
  // Type numbers that do not exist, and the retired HASH_FILE (17) and HASH_RESULT (109).
  for (Phase phase : kAllPhases) {
    CAPTURE(PhaseName(phase));
    CHECK_FALSE(Admit(phase, static_cast<MsgType>(999), "").ok());
    CHECK_FALSE(Admit(phase, static_cast<MsgType>(0), "").ok());
    CHECK_FALSE(Admit(phase, static_cast<MsgType>(17), "x").ok());
    CHECK_FALSE(Admit(phase, static_cast<MsgType>(17), "x", true).ok());
    CHECK_FALSE(Admit(phase, static_cast<MsgType>(109), "").ok());
  }
}

TEST_CASE("Phase and message names are readable") {
  CHECK(std::string(PhaseName(Phase::kPrelogin)) == "pre-login");
  CHECK(std::string(PhaseName(Phase::kSession)) == "session");
  CHECK(std::string(PhaseName(Phase::kClosing)) == "closing");
  CHECK(std::string(PhaseName(Phase::kTlsJail)) == "tls jail");
  for (MsgType type : kAllTypes) {
    CHECK(std::string(MsgTypeName(type)) != "UNKNOWN");
  }
  CHECK(MessageCarriesFd(MsgType::kDataResult));
  CHECK_FALSE(MessageCarriesFd(MsgType::kLogin));
}

}  // namespace
}  // namespace keepftpd
