// Encoders and decoders of the jails' requests (requests.h). Shared; pure.
#include "requests.h"

#include <netinet/in.h>

#include <cstring>
#include <initializer_list>

#include "wire.h"

namespace keepftpd {

namespace {

constexpr std::uint8_t kMaxPriority = 7;  // syslog's LOG_DEBUG

std::string_view Cut(std::string_view s, std::size_t max) { return s.substr(0, max); }

// The address bytes of an AF_INET or AF_INET6 address, as sent (4 or 16 of them); other
// families send the 4 bytes of 0.0.0.0.
std::string_view AddressBytes(const SockAddr& a) {
  static constexpr char kZero[4] = {};
  if (a.family() == AF_INET) {
    return {reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in*>(a.raw())->sin_addr),
            4};
  }
  if (a.family() == AF_INET6) {
    return {reinterpret_cast<const char*>(
                &reinterpret_cast<const sockaddr_in6*>(a.raw())->sin6_addr),
            16};
  }
  return {kZero, 4};
}

void PutAddress(WireWriter& w, const SockAddr& a) {
  w.PutBytes(AddressBytes(a));
  w.PutU16(a.family() == AF_UNSPEC ? 0 : a.port());
}

// Reads bytes[4|16] and a u16 port for family (4 or 6).
bool GetAddress(WireReader& r, std::uint8_t family, SockAddr* out) {
  std::string_view bytes;
  std::uint16_t port = 0;
  if (!r.GetBytes(family == 4 ? 4 : 16, &bytes) || !r.GetU16(&port)) return false;
  const auto* b = reinterpret_cast<const std::uint8_t*>(bytes.data());
  *out = family == 4 ? SockAddr::V4(b, port) : SockAddr::V6(b, port);
  return true;
}

Status Malformed(const char* name, std::string_view why) {
  return Status::Error("malformed " + std::string(name) + " request: " + std::string(why));
}

// The common ending: every field read, nothing after them.
Status Finished(const WireReader& r, const char* name) {
  return r.Finish() ? Status::Ok() : Malformed(name, "short, over-long or with trailing bytes");
}

Status Flag(std::string_view body, const char* name, bool* out) {
  WireReader r(body);
  std::uint8_t v = 0;
  r.GetU8(&v);
  Status s = Finished(r, name);
  if (!s.ok()) return s;
  if (v > 1) return Malformed(name, "flag " + std::to_string(v) + " is not 0 or 1");
  *out = v == 1;
  return Status::Ok();
}

std::string FlagBody(bool v) { return std::string(1, v ? '\1' : '\0'); }

}  // namespace

std::string Encode(const LoginRequest& r) {
  WireWriter w;
  w.PutString(Cut(r.user, kMaxUserName));
  w.PutString(Cut(r.password, kMaxPassword));
  w.PutU8(r.prot_private ? 1 : 0);
  return w.data();
}

Status Decode(std::string_view body, LoginRequest* out) {
  WireReader r(body);
  std::uint8_t prot = 0;
  r.GetString(kMaxUserName, &out->user);
  r.GetString(kMaxPassword, &out->password);
  r.GetU8(&prot);
  Status s = Finished(r, "LOGIN");
  if (!s.ok()) return s;
  if (prot > 1) return Malformed("LOGIN", "prot_private is not 0 or 1");
  out->prot_private = prot == 1;
  return Status::Ok();
}

std::string Encode(const LogRequest& r) {
  WireWriter w;
  w.PutU8(r.priority);
  w.PutString(Cut(r.text, kMaxLogText));
  return w.data();
}

Status Decode(std::string_view body, LogRequest* out) {
  WireReader r(body);
  r.GetU8(&out->priority);
  r.GetString(kMaxLogText, &out->text);
  Status s = Finished(r, "LOG");
  if (!s.ok()) return s;
  if (out->priority > kMaxPriority) return Malformed("LOG", "priority above 7");
  return Status::Ok();
}

std::string Encode(const EventRequest& r) {
  WireWriter w;
  w.PutU8(r.priority);
  w.PutString(Cut(r.text, kMaxEventText));
  w.PutString(Cut(r.command, kMaxEventCommand));
  w.PutString(Cut(r.path, kMaxEventPath));
  w.PutU64(r.bytes);
  w.PutU64(r.duration_usec);
  w.PutString(Cut(r.result, kMaxEventResult));
  w.PutU8(static_cast<std::uint8_t>(r.transfer_type));
  w.PutString(Cut(r.target, kMaxEventPath));
  return w.data();
}

Status Decode(std::string_view body, EventRequest* out) {
  WireReader r(body);
  std::uint8_t type = 0;
  r.GetU8(&out->priority);
  r.GetString(kMaxEventText, &out->text);
  r.GetString(kMaxEventCommand, &out->command);
  r.GetString(kMaxEventPath, &out->path);
  r.GetU64(&out->bytes);
  r.GetU64(&out->duration_usec);
  r.GetString(kMaxEventResult, &out->result);
  r.GetU8(&type);
  r.GetString(kMaxEventPath, &out->target);
  Status s = Finished(r, "EVENT");
  if (!s.ok()) return s;
  if (out->priority > kMaxPriority) return Malformed("EVENT", "priority above 7");
  if (type != 0 && type != 'a' && type != 'b') return Malformed("EVENT", "unknown transfer type");
  out->transfer_type = static_cast<char>(type);
  return Status::Ok();
}

std::string Encode(const PortConnectRequest& r) {
  WireWriter w;
  w.PutU8(r.target.family() == AF_INET6 ? 6 : 4);
  PutAddress(w, r.target);
  w.PutU8(r.tls ? 1 : 0);
  return w.data();
}

Status Decode(std::string_view body, PortConnectRequest* out) {
  WireReader r(body);
  std::uint8_t family = 0, tls = 0;
  r.GetU8(&family);
  if (r.ok() && family != 4 && family != 6) return Malformed("PORT_CONNECT", "family not 4 or 6");
  GetAddress(r, family, &out->target);
  r.GetU8(&tls);
  Status s = Finished(r, "PORT_CONNECT");
  if (!s.ok()) return s;
  if (tls > 1) return Malformed("PORT_CONNECT", "tls is not 0 or 1");
  out->tls = tls == 1;
  return Status::Ok();
}

std::string Encode(const ProxyInfoRequest& r) {
  WireWriter w;
  const bool v6 = r.proxied && r.source.family() == AF_INET6;
  w.PutU8(r.proxied ? 1 : 0);
  w.PutU8(v6 ? 6 : 4);
  if (!r.proxied) {
    PutAddress(w, SockAddr());
    PutAddress(w, SockAddr());
  } else {
    PutAddress(w, r.source);
    PutAddress(w, r.destination.family() == r.source.family() ? r.destination : r.source);
  }
  return w.data();
}

Status Decode(std::string_view body, ProxyInfoRequest* out) {
  WireReader r(body);
  std::uint8_t kind = 0, family = 0;
  r.GetU8(&kind);
  r.GetU8(&family);
  if (r.ok() && family != 4 && family != 6) return Malformed("PROXY_INFO", "family not 4 or 6");
  GetAddress(r, family, &out->source);
  GetAddress(r, family, &out->destination);
  Status s = Finished(r, "PROXY_INFO");
  if (!s.ok()) return s;
  if (kind > 1) return Malformed("PROXY_INFO", "kind is not LOCAL or PROXY");
  if (kind == 0 && body != Encode(ProxyInfoRequest{})) {
    return Malformed("PROXY_INFO", "LOCAL with an address");
  }
  out->proxied = kind == 1;
  return Status::Ok();
}

std::string Encode(const SeccompReport& r) {
  WireWriter w;
  w.PutU32(r.syscall);
  return w.data();
}

Status Decode(std::string_view body, SeccompReport* out) {
  WireReader r(body);
  r.GetU32(&out->syscall);
  return Finished(r, "SECCOMP_REPORT");
}

std::string Encode(const DataAcceptRequest& r) { return FlagBody(r.tls); }
Status Decode(std::string_view body, DataAcceptRequest* out) {
  return Flag(body, "DATA_ACCEPT", &out->tls);
}

std::string Encode(const TlsDataStatusRequest& r) { return FlagBody(r.upload); }
Status Decode(std::string_view body, TlsDataStatusRequest* out) {
  return Flag(body, "TLS_DATA_STATUS", &out->upload);
}

std::string Encode(const TlsReadyReport& r) {
  WireWriter w;
  w.PutU8(r.ok ? 1 : 0);
  w.PutString(Cut(r.error, kMaxLogText));
  return w.data();
}

Status Decode(std::string_view body, TlsReadyReport* out) {
  WireReader r(body);
  std::uint8_t ok = 0;
  r.GetU8(&ok);
  r.GetString(kMaxLogText, &out->error);
  Status s = Finished(r, "TLS_READY");
  if (!s.ok()) return s;
  if (ok > 1) return Malformed("TLS_READY", "ok is not 0 or 1");
  out->ok = ok == 1;
  return Status::Ok();
}

std::string Encode(const TlsDataEndReport& r) { return std::string(1, static_cast<char>(r.flags)); }

Status Decode(std::string_view body, TlsDataEndReport* out) {
  WireReader r(body);
  r.GetU8(&out->flags);
  Status s = Finished(r, "TLS_DATA_END");
  if (!s.ok()) return s;
  if (out->flags > (TlsDataEndReport::kUnbroken | TlsDataEndReport::kCloseNotify)) {
    return Malformed("TLS_DATA_END", "unknown flags");
  }
  return Status::Ok();
}

std::string Encode(const TlsWrapAnswer& r) {
  WireWriter w;
  w.PutU8(r.ok ? 1 : 0);
  w.PutString(Cut(r.message, kMaxLogText));
  return w.data();
}

Status Decode(std::string_view body, TlsWrapAnswer* out) {
  WireReader r(body);
  std::uint8_t ok = 0;
  r.GetU8(&ok);
  r.GetString(kMaxLogText, &out->message);
  Status s = Finished(r, "TLS_WRAP_RESULT");
  if (!s.ok()) return s;
  if (ok > 1) return Malformed("TLS_WRAP_RESULT", "ok is not 0 or 1");
  out->ok = ok == 1;
  return Status::Ok();
}

// ---- Answers ----

namespace {

// Reads u8 flags that must each be 0 or 1.
bool GetFlags(WireReader& r, std::initializer_list<bool*> flags) {
  for (bool* flag : flags) {
    std::uint8_t v = 2;
    if (!r.GetU8(&v) || v > 1) return false;
    *flag = v == 1;
  }
  return true;
}

Status Answer(const WireReader& r, bool flags_ok, const char* name) {
  if (r.Finish() && flags_ok) return Status::Ok();
  return Status::Error(std::string("malformed ") + name);
}

}  // namespace

std::string Encode(const LoginResult& r) {
  WireWriter w;
  w.PutU8(r.ok ? 1 : 0);
  w.PutU8(r.close ? 1 : 0);
  w.PutString(Cut(r.message, kMaxAnswerText));
  return w.data();
}

Status Decode(std::string_view body, LoginResult* out) {
  WireReader r(body);
  const bool flags = GetFlags(r, {&out->ok, &out->close});
  r.GetString(kMaxAnswerText, &out->message);
  return Answer(r, flags, "LOGIN_RESULT");
}

std::string Encode(const PasvListenResult& r) {
  WireWriter w;
  w.PutU8(r.ok ? 1 : 0);
  w.PutU16(r.port);
  w.PutString(Cut(r.message, kMaxAnswerText));
  w.PutU8(r.resolved ? 1 : 0);
  w.PutBytes(std::string_view(reinterpret_cast<const char*>(r.address), 4));
  return w.data();
}

Status Decode(std::string_view body, PasvListenResult* out) {
  WireReader r(body);
  bool flags = GetFlags(r, {&out->ok});
  r.GetU16(&out->port);
  r.GetString(kMaxAnswerText, &out->message);
  flags = GetFlags(r, {&out->resolved}) && flags;
  std::string_view address;
  if (r.GetBytes(4, &address)) std::memcpy(out->address, address.data(), 4);
  return Answer(r, flags, "PASV_LISTEN_RESULT");
}

namespace {

std::string OkAndMessage(bool ok, std::string_view message) {
  WireWriter w;
  w.PutU8(ok ? 1 : 0);
  w.PutString(Cut(message, kMaxAnswerText));
  return w.data();
}

Status OkAndMessage(std::string_view body, const char* name, bool* ok, std::string* message) {
  WireReader r(body);
  const bool flags = GetFlags(r, {ok});
  r.GetString(kMaxAnswerText, message);
  return Answer(r, flags, name);
}

}  // namespace

std::string Encode(const DataResult& r) { return OkAndMessage(r.ok, r.message); }

Status Decode(std::string_view body, DataResult* out) {
  return OkAndMessage(body, "DATA_RESULT", &out->ok, &out->message);
}

std::string Encode(const StartTlsResult& r) { return OkAndMessage(r.ok, r.message); }

Status Decode(std::string_view body, StartTlsResult* out) {
  return OkAndMessage(body, "START_TLS_RESULT", &out->ok, &out->message);
}

std::string Encode(const ChownResult& r) { return FlagBody(r.ok); }

Status Decode(std::string_view body, ChownResult* out) {
  WireReader r(body);
  return Answer(r, GetFlags(r, {&out->ok}), "CHOWN_RESULT");
}

std::string Encode(const TlsDataStatusResult& r) {
  return FlagBody(r.clean) + FlagBody(r.close_notify);
}

Status Decode(std::string_view body, TlsDataStatusResult* out) {
  WireReader r(body);
  return Answer(r, GetFlags(r, {&out->clean, &out->close_notify}), "TLS_DATA_STATUS_RESULT");
}

std::string Encode(const ProxyInfoResult& r) {
  WireWriter w;
  w.PutU8(r.go_on ? 1 : 0);
  w.PutString(Cut(r.reply, kMaxAnswerText));
  return w.data();
}

Status Decode(std::string_view body, ProxyInfoResult* out) {
  WireReader r(body);
  const bool flags = GetFlags(r, {&out->go_on});
  r.GetString(kMaxAnswerText, &out->reply);
  return Answer(r, flags, "PROXY_INFO_RESULT");
}

Status DecodeEmpty(MsgType type, std::string_view body) {
  if (body.empty()) return Status::Ok();
  return Malformed(MsgTypeName(type), "a body where none belongs");
}

}  // namespace keepftpd
