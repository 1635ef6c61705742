// Fuzz target: the monitor's trust boundary. A message from a jail as it arrives on a channel
// (u16 type, little endian, then the body) goes through AdmitRequest, which is everything the
// monitor's Dispatch does before it calls the row's handler: the row of monitor_requests.def,
// its phases, limit, descriptor rule and flags, and the row's decoder (src/common/requests.h;
// no copies), in every phase. What is admitted must be what the jail's own encoder would have
// sent, and a body the row's decoder takes must fit the row's limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

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

// The checks above, on what admission decoded.
void CheckAdmitted(MsgType type, std::string_view body, const keepftpd::RequestBody& decoded) {
  std::visit(
      [&](const auto& r) {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, keepftpd::EmptyRequest>) {
          FUZZ_CHECK(body.empty());
        } else {
          // What the monitor acts on is what the jail's own encoder would have sent.
          FUZZ_CHECK(keepftpd::Encode(r) == body);
        }
      },
      decoded);
  switch (type) {
    case MsgType::kLogin: FUZZ_CHECK(CheckLogin(body)); break;
    case MsgType::kLog: FUZZ_CHECK(CheckLog(body)); break;
    case MsgType::kEvent: FUZZ_CHECK(CheckEvent(body)); break;
    case MsgType::kPortConnect: FUZZ_CHECK(CheckPortConnect(body)); break;
    case MsgType::kProxyInfo: FUZZ_CHECK(CheckProxyInfo(body)); break;
    default: break;
  }
}

constexpr Phase kPhases[] = {Phase::kPrelogin, Phase::kSession, Phase::kDataWait,
                             Phase::kClosing,  Phase::kTlsJail, Phase::kTlsWrap};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // ReceiveMessage refuses datagrams shorter than the type or longer than the largest body.
  if (size < 2 || size > 2 + keepftpd::kMaxMessageBody) return 0;
  const auto type = static_cast<MsgType>(data[0] | (data[1] << 8));
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  (void)keepftpd::MsgTypeName(type);

  // The row for the type, if any, and whether its own decoder takes the body.
  const keepftpd::RequestRule* rule = nullptr;
  for (const keepftpd::RequestRule& r : keepftpd::RequestRules()) {
    if (r.type == type) rule = &r;
  }
  bool well_formed = false;
  if (rule != nullptr) {
    keepftpd::RequestBody out;
    well_formed = rule->decode(type, body, &out).ok();
    // The row's limit covers every well-formed body.
    if (well_formed) FUZZ_CHECK(body.size() <= rule->max_body);
  }

  // The very admission the monitor's Dispatch runs, in every phase, with and without a
  // descriptor, on a fresh connection and on one awaiting its PROXY header.
  bool admitted_somewhere = false;
  for (Phase phase : kPhases) {
    (void)keepftpd::PhaseName(phase);
    for (bool fd : {false, true}) {
      for (bool await_proxy : {false, true}) {
        keepftpd::Admissions state(await_proxy);
        keepftpd::Result<keepftpd::Admitted> a =
            keepftpd::AdmitRequest(state, phase, type, body, fd);
        if (!a.ok()) {
          FUZZ_CHECK(!a.status().message().empty());
          continue;
        }
        admitted_somewhere = true;
        const keepftpd::RequestRule& row = keepftpd::RequestRules()[a->row];
        FUZZ_CHECK(&row == rule);
        FUZZ_CHECK((row.phases & keepftpd::In(phase)) != 0);
        FUZZ_CHECK(body.size() <= row.max_body);
        FUZZ_CHECK(fd ? row.fd != keepftpd::FdRule::kNone : row.fd != keepftpd::FdRule::kRequired);
        FUZZ_CHECK(well_formed);
        CheckAdmitted(type, body, a->body);
        // A once-only request is refused the second time; any other is admitted again.
        const bool again = keepftpd::AdmitRequest(state, phase, type, body, fd).ok();
        const bool once =
            (row.flags & (keepftpd::kOncePerJail | keepftpd::kOncePerConnection)) != 0;
        FUZZ_CHECK(again != once);
      }
    }
  }
  if (well_formed) FUZZ_CHECK(admitted_somewhere);
  return 0;
}
