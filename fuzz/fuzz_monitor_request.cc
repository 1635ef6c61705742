// Fuzz target: the monitor's trust boundary. A request from a jail as it arrives on the channel
// (u16 type, little endian, then the body) goes through the phase table (ValidateRequest) for
// every phase, and each permitted request through the same bounded decoding as the handlers in
// src/monitor/monitor.cc (replicated here: those handlers act on the system). A request that decodes
// must fit the table's size limit, and must re-encode to the very bytes it came from.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "ipc_messages.h"
#include "monitor_table.h"
#include "sockaddr.h"
#include "strutil.h"
#include "wire.h"

using keepftpd::MsgType;
using keepftpd::Phase;
using keepftpd::WireReader;
using keepftpd::WireWriter;

namespace {

// log.h's kLogDebug, the highest priority a LOG request may carry. log.h itself cannot be
// included: it uses std::source_location, which Debian 12's clang 14 does not support.
constexpr std::uint8_t kLogDebug = 7;

// Each returns true when the body decodes completely (the handler would go on), false when the
// handler would call Fatal().

bool DecodeLogin(std::string_view body) {  // HandleLogin
  WireReader r(body);
  std::string user, password;
  r.GetString(keepftpd::kMaxUserName, &user);
  r.GetString(keepftpd::kMaxPassword, &password);
  std::uint8_t prot_private = 0;
  r.GetU8(&prot_private);
  if (!r.Finish()) return false;
  FUZZ_CHECK(user.size() <= keepftpd::kMaxUserName);
  FUZZ_CHECK(password.size() <= keepftpd::kMaxPassword);
  // The monitor refuses control bytes before the name goes near PAM or a log line.
  const bool refused =
      keepftpd::HasControlLineBytes(user) || keepftpd::HasControlLineBytes(password);
  if (!refused) FUZZ_CHECK(!keepftpd_fuzz::HasCrOrLf(user));
  const std::string logged = keepftpd::SanitizeForLog(user);
  FUZZ_CHECK(logged.size() == user.size());
  for (char c : logged) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  WireWriter w;
  w.PutString(user);
  w.PutString(password);
  w.PutU8(prot_private);
  FUZZ_CHECK(w.data() == body);
  return true;
}

bool DecodeLog(std::string_view body) {  // HandleLog, and ReapChild's drain of log records
  WireReader r(body);
  std::uint8_t prio = 0;
  std::string text;
  r.GetU8(&prio);
  r.GetString(keepftpd::kMaxLogText, &text);
  if (!r.Finish() || prio > kLogDebug) return false;
  FUZZ_CHECK(text.size() <= keepftpd::kMaxLogText);
  WireWriter w;
  w.PutU8(prio);
  w.PutString(text);
  FUZZ_CHECK(w.data() == body);
  return true;
}

bool DecodePortConnect(std::string_view body) {  // HandlePortConnect, up to the socket calls
  WireReader r(body);
  std::uint8_t family = 0;
  std::string_view bytes;
  std::uint16_t port = 0;
  r.GetU8(&family);
  if (family != 4 && family != 6) return false;
  r.GetBytes(family == 4 ? 4 : 16, &bytes);
  r.GetU16(&port);
  std::uint8_t tls = 0;
  r.GetU8(&tls);
  if (!r.Finish()) return false;
  FUZZ_CHECK(bytes.size() == (family == 4 ? 4u : 16u));
  const auto* b = reinterpret_cast<const std::uint8_t*>(bytes.data());
  keepftpd::SockAddr target = family == 4 ? keepftpd::SockAddr::V4(b, port)
                                          : keepftpd::SockAddr::V6(b, port);
  target = target.Normalized();
  FUZZ_CHECK(target.family() == AF_INET || target.family() == AF_INET6);
  FUZZ_CHECK(target.port() == port);
  FUZZ_CHECK(!target.HostString().empty());
  if (target.family() == AF_INET) {
    std::uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
    FUZZ_CHECK(target.GetV4Bytes(mapped + 12));
    keepftpd::SockAddr dest = keepftpd::SockAddr::V6(mapped, port);
    FUZZ_CHECK(dest.SameHost(target));
  }
  WireWriter w;
  w.PutU8(family);
  w.PutBytes(bytes);
  w.PutU16(port);
  w.PutU8(tls);
  FUZZ_CHECK(w.data() == body);
  return true;
}

bool DecodeSeccompReport(std::string_view body) {  // HandleSeccompReport
  WireReader r(body);
  std::uint32_t nr = 0;
  r.GetU32(&nr);
  if (!r.Finish()) return false;
  WireWriter w;
  w.PutU32(nr);
  FUZZ_CHECK(w.data() == body);
  return true;
}

bool DecodeEvent(std::string_view body) {  // HandleEvent
  WireReader r(body);
  std::uint8_t prio = 0;
  std::string text, command, path, result;
  std::uint64_t bytes = 0, usec = 0;
  r.GetU8(&prio);
  r.GetString(keepftpd::kMaxEventText, &text);
  r.GetString(keepftpd::kMaxEventCommand, &command);
  r.GetString(keepftpd::kMaxEventPath, &path);
  r.GetU64(&bytes);
  r.GetU64(&usec);
  r.GetString(keepftpd::kMaxEventResult, &result);
  std::uint8_t type = 0;
  r.GetU8(&type);
  return r.Finish() && prio <= 7;
}

bool DecodeProxyInfo(std::string_view body) {  // PROXY_INFO, as HandleProxyInfo reads it
  WireReader r(body);
  std::uint8_t kind = 0, family = 0;
  std::string_view src, dst;
  std::uint16_t sport = 0, dport = 0;
  r.GetU8(&kind);
  r.GetU8(&family);
  if (family != 4 && family != 6) return false;
  r.GetBytes(family == 4 ? 4 : 16, &src);
  r.GetU16(&sport);
  r.GetBytes(family == 4 ? 4 : 16, &dst);
  r.GetU16(&dport);
  return r.Finish() && kind <= 1;
}

bool DecodeFlag(std::string_view body) {  // DATA_ACCEPT {u8 tls}, HASH_FILE {u8 algorithm}
  WireReader r(body);
  std::uint8_t flag = 0;
  r.GetU8(&flag);
  return r.Finish();
}

// PASV_LISTEN, REINIT, START_TLS, TLS_DATA, DATA_CANCEL, CHOWN_UPLOAD (its descriptor rides beside the body)
bool DecodeEmpty(std::string_view body) { return body.empty(); }

// -1: the monitor has no handler for the type ("unhandled request type").
int Decode(MsgType type, std::string_view body) {
  switch (type) {
    case MsgType::kLogin: return DecodeLogin(body);
    case MsgType::kLog: return DecodeLog(body);
    case MsgType::kPasvListen:
    case MsgType::kReinit:
    case MsgType::kStartTls:
    case MsgType::kTlsData:
    case MsgType::kDataCancel:
    case MsgType::kChownUpload: return DecodeEmpty(body);
    case MsgType::kTlsUploadEnd:
    case MsgType::kHashFile:
    case MsgType::kDataAccept: return DecodeFlag(body);
    case MsgType::kPortConnect: return DecodePortConnect(body);
    case MsgType::kProxyInfo: return DecodeProxyInfo(body);
    case MsgType::kSeccompReport: return DecodeSeccompReport(body);
    case MsgType::kEvent: return DecodeEvent(body);
    default: return -1;
  }
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
    // Only CHOWN_UPLOAD and HASH_FILE, in the session, may pass a descriptor to the monitor.
    if (keepftpd::ValidateRequest(phase, type, body.size(), true).ok()) {
      FUZZ_CHECK(phase == Phase::kSession &&
                 (type == MsgType::kChownUpload || type == MsgType::kHashFile));
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
