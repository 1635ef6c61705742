// Fuzz target: the monitor's trust boundary. A request from a jail as it arrives on the channel
// (u16 type, little endian, then the body) goes through the phase table (ValidateRequest) for
// every phase, and through the very decoder the monitor's handler calls (src/common/requests.h;
// no copies). A request that decodes must fit the table's size limit, and must re-encode, with
// the jail's own encoder, to the very bytes it came from.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "ipc_messages.h"
#include "monitor_table.h"
#include "requests.h"
#include "sockaddr.h"
#include "strutil.h"

using keepftpd::MsgType;
using keepftpd::Phase;

namespace {

// Decodes body as a request of type R; when it decodes, checks that the jail's encoder gives
// the same bytes back.
template <typename R>
bool DecodesAndRoundTrips(std::string_view body, R* out) {
  keepftpd::Status s = keepftpd::Decode(body, out);
  if (!s.ok()) {
    FUZZ_CHECK(!s.message().empty());
    return false;
  }
  FUZZ_CHECK(keepftpd::Encode(*out) == body);
  return true;
}

bool CheckLogin(std::string_view body) {
  keepftpd::LoginRequest r;
  if (!DecodesAndRoundTrips(body, &r)) return false;
  FUZZ_CHECK(r.user.size() <= keepftpd::kMaxUserName);
  FUZZ_CHECK(r.password.size() <= keepftpd::kMaxPassword);
  // The monitor refuses control bytes before the name goes near PAM or a log line.
  const bool refused =
      keepftpd::HasControlLineBytes(r.user) || keepftpd::HasControlLineBytes(r.password);
  if (!refused) FUZZ_CHECK(!keepftpd_fuzz::HasCrOrLf(r.user));
  const std::string logged = keepftpd::SanitizeForLog(r.user);
  FUZZ_CHECK(logged.size() == r.user.size());
  for (char c : logged) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  return true;
}

bool CheckLog(std::string_view body) {
  keepftpd::LogRequest r;
  if (!DecodesAndRoundTrips(body, &r)) return false;
  FUZZ_CHECK(r.priority <= 7);
  FUZZ_CHECK(r.text.size() <= keepftpd::kMaxLogText);
  return true;
}

bool CheckEvent(std::string_view body) {
  keepftpd::EventRequest r;
  if (!DecodesAndRoundTrips(body, &r)) return false;
  FUZZ_CHECK(r.priority <= 7);
  FUZZ_CHECK(r.transfer_type == 0 || r.transfer_type == 'a' || r.transfer_type == 'b');
  return true;
}

bool CheckPortConnect(std::string_view body) {
  keepftpd::PortConnectRequest r;
  if (!DecodesAndRoundTrips(body, &r)) return false;
  // What the handler does with it before any socket call.
  const keepftpd::SockAddr target = r.target.Normalized();
  FUZZ_CHECK(target.family() == AF_INET || target.family() == AF_INET6);
  FUZZ_CHECK(target.port() == r.target.port());
  FUZZ_CHECK(!target.HostString().empty());
  if (target.family() == AF_INET) {
    std::uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
    FUZZ_CHECK(target.GetV4Bytes(mapped + 12));
    keepftpd::SockAddr dest = keepftpd::SockAddr::V6(mapped, target.port());
    FUZZ_CHECK(dest.SameHost(target));
  }
  return true;
}

bool CheckProxyInfo(std::string_view body) {
  keepftpd::ProxyInfoRequest r;
  if (!DecodesAndRoundTrips(body, &r)) return false;
  FUZZ_CHECK(r.source.family() == r.destination.family());
  if (r.proxied) FUZZ_CHECK(!r.source.Normalized().HostString().empty());
  return true;
}

template <typename R>
bool Check(std::string_view body) {
  R r;
  return DecodesAndRoundTrips(body, &r);
}

// -1: the monitor has no handler for the type ("unhandled request type").
int Decode(MsgType type, std::string_view body) {
  switch (type) {
    case MsgType::kLogin: return CheckLogin(body);
    case MsgType::kLog: return CheckLog(body);
    case MsgType::kPasvListen:
    case MsgType::kReinit:
    case MsgType::kStartTls:
    case MsgType::kTlsData:
    case MsgType::kDataCancel:
    case MsgType::kChownUpload: return keepftpd::DecodeEmpty(type, body).ok();
    case MsgType::kTlsUploadEnd: return Check<keepftpd::TlsUploadEndRequest>(body);
    case MsgType::kDataAccept: return Check<keepftpd::DataAcceptRequest>(body);
    case MsgType::kPortConnect: return CheckPortConnect(body);
    case MsgType::kProxyInfo: return CheckProxyInfo(body);
    case MsgType::kSeccompReport: return Check<keepftpd::SeccompReport>(body);
    case MsgType::kEvent: return CheckEvent(body);
    default: break;
  }
  // The TLS jail's reports and answer, which the monitor reads on that jail's channel.
  switch (type) {
    case MsgType::kTlsReady: (void)Check<keepftpd::TlsReadyReport>(body); break;
    case MsgType::kTlsDataEnd: (void)Check<keepftpd::TlsDataEndReport>(body); break;
    case MsgType::kTlsWrapResult: (void)Check<keepftpd::TlsWrapAnswer>(body); break;
    default: break;
  }
  return -1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // ReceiveMessage refuses datagrams shorter than the type or longer than the largest body.
  if (size < 2 || size > 2 + keepftpd::kMaxMessageBody) return 0;
  const auto type = static_cast<MsgType>(data[0] | (data[1] << 8));
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);

  (void)keepftpd::MsgTypeName(type);
  const int decoded = Decode(type, body);
  bool allowed_somewhere = false;
  for (Phase phase : {Phase::kPrelogin, Phase::kSession, Phase::kClosing}) {
    (void)keepftpd::PhaseName(phase);
    // Only CHOWN_UPLOAD, in the session, may pass a descriptor to the monitor.
    if (keepftpd::ValidateRequest(phase, type, body.size(), true).ok()) {
      FUZZ_CHECK(phase == Phase::kSession && type == MsgType::kChownUpload);
    }
    const keepftpd::Status v = keepftpd::ValidateRequest(phase, type, body.size(), false);
    if (!v.ok()) {
      FUZZ_CHECK(!v.message().empty());
      // A request the table permits in this phase but refuses by size must not be one the
      // handler would accept: the table's limit covers every well-formed body.
      bool listed = false;
      for (const keepftpd::MonitorRule& rule : keepftpd::RulesForPhase(phase)) {
        listed |= rule.type == type;
      }
      if (listed) FUZZ_CHECK(decoded != 1);
      continue;
    }
    allowed_somewhere = true;
    // Whatever the table lets through must have a handler.
    FUZZ_CHECK(decoded != -1);
  }
  if (decoded == 1) FUZZ_CHECK(allowed_somewhere);
  return 0;
}
