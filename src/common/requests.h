// The requests a jail sends the monitor, the TLS jail's reports and the monitor's answers, each
// as a struct with one
// encoder (the jail's side: monitor_client.cc, log.cc, tls.cc) and one decoder (the monitor's
// side). The decoders are pure: they read nothing but the body, check every bound and every
// field's range, and refuse trailing bytes. The monitor, the unit tests and the fuzz target
// call the same ones. Whether a request is allowed at all, and what it may do, is the monitor's
// business (monitor_requests.def and the handlers); these only say what was asked. Shared.
#ifndef KEEPFTPD_SRC_COMMON_REQUESTS_H_
#define KEEPFTPD_SRC_COMMON_REQUESTS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "ipc_messages.h"
#include "sockaddr.h"
#include "status.h"

namespace keepftpd {

// LOGIN {str user, str password, u8 prot_private}.
struct LoginRequest {
  std::string user;      // up to kMaxUserName bytes
  std::string password;  // up to kMaxPassword bytes
  bool prot_private = false;
};

// LOG {u8 priority, str text}: a syslog priority (0..7) and up to kMaxLogText bytes.
struct LogRequest {
  std::uint8_t priority = 0;
  std::string text;
};

// EVENT {u8 priority, str text, str command, str path, u64 bytes, u64 duration_usec,
// str result, u8 transfer type, str target}: a structured record (LogEvent in log.h).
struct EventRequest {
  std::uint8_t priority = 0;
  std::string text;     // up to kMaxEventText
  std::string command;  // up to kMaxEventCommand
  std::string path;     // up to kMaxEventPath
  std::uint64_t bytes = 0;
  std::uint64_t duration_usec = 0;
  std::string result;   // up to kMaxEventResult
  char transfer_type = 0;  // 0, 'a' or 'b'
  std::string target;   // up to kMaxEventPath: RNTO's new name, SITE CHMOD's mode
};

// PORT_CONNECT {u8 family 4|6, bytes[4|16] address, u16 port, u8 tls}. target is as sent: the
// jail sends it normalized, the monitor normalizes it again.
struct PortConnectRequest {
  SockAddr target;
  bool tls = false;
};

// PROXY_INFO {u8 kind 0 LOCAL|1 PROXY, u8 family 4|6, bytes source, u16 port, bytes
// destination, u16 port}. For LOCAL both addresses are 0.0.0.0 port 0.
struct ProxyInfoRequest {
  bool proxied = false;  // kind 1: a PROXY header with the client's address
  SockAddr source;       // the client
  SockAddr destination;  // same family as source
};

// SECCOMP_REPORT {u32 syscall number}.
struct SeccompReport {
  std::uint32_t syscall = 0;
};

// DATA_ACCEPT {u8 tls}.
struct DataAcceptRequest {
  bool tls = false;
};

// TLS_DATA_STATUS {u8 upload}.
struct TlsDataStatusRequest {
  bool upload = false;
};

// TLS_READY {u8 ok, str why not}: from the TLS jail, once.
struct TlsReadyReport {
  bool ok = false;
  std::string error;  // up to kMaxLogText; empty when ok
};

// TLS_DATA_END {u8 flags}: from the TLS jail when a data connection ended.
struct TlsDataEndReport {
  static constexpr std::uint8_t kUnbroken = 1;     // not reset, no TLS error
  static constexpr std::uint8_t kCloseNotify = 2;  // the client sent close_notify
  std::uint8_t flags = 0;
};

// TLS_WRAP_RESULT {u8 ok, str message} (+ the plaintext end when ok): the TLS jail's answer.
struct TlsWrapAnswer {
  bool ok = false;
  std::string message;  // up to kMaxLogText
};

// The monitor's answers to the jails: one encoder each (the monitor's side) and one decoder (the
// jail's, monitor_client.cc). Their strings are at most kMaxAnswerText bytes.
inline constexpr std::size_t kMaxAnswerText = 512;

// LOGIN_RESULT {u8 ok, u8 close, str message}: close, refused and too many failures.
struct LoginResult {
  bool ok = false;
  bool close = false;
  std::string message;  // for the 530 reply when refused
};

// PASV_LISTEN_RESULT {u8 ok, u16 port, str message, u8 resolved, bytes[4] address}.
struct PasvListenResult {
  bool ok = false;
  std::uint16_t port = 0;
  std::string message;
  bool resolved = false;  // pasv_addr_resolve: the monitor looked pasv_address up
  std::uint8_t address[4] = {};
};

// DATA_RESULT {u8 ok, str message} (+ the data connection when ok, but not for the first step
// of a TLS data connection).
struct DataResult {
  bool ok = false;
  std::string message;  // why not
};

// START_TLS_RESULT {u8 ok, str message} (+ the plaintext end of the control connection when ok).
struct StartTlsResult {
  bool ok = false;
  std::string message;  // why not
};

// CHOWN_RESULT {u8 ok}; TLS_DATA_STATUS_RESULT {u8 clean, u8 close_notify};
// PROXY_INFO_RESULT {u8 go_on, str reply}.
struct ChownResult {
  bool ok = false;
};
struct TlsDataStatusResult {
  bool clean = false;
  bool close_notify = false;
};
struct ProxyInfoResult {
  bool go_on = false;
  std::string reply;  // sent by the jail before it ends the connection, when not go_on
};

// Encoders. Strings longer than their limit are cut to it.
std::string Encode(const LoginRequest& r);
std::string Encode(const LogRequest& r);
std::string Encode(const EventRequest& r);
std::string Encode(const PortConnectRequest& r);
std::string Encode(const ProxyInfoRequest& r);
std::string Encode(const SeccompReport& r);
std::string Encode(const DataAcceptRequest& r);
std::string Encode(const TlsDataStatusRequest& r);
std::string Encode(const TlsReadyReport& r);
std::string Encode(const TlsDataEndReport& r);
std::string Encode(const TlsWrapAnswer& r);

std::string Encode(const LoginResult& r);
std::string Encode(const PasvListenResult& r);
std::string Encode(const DataResult& r);
std::string Encode(const StartTlsResult& r);
std::string Encode(const ChownResult& r);
std::string Encode(const TlsDataStatusResult& r);
std::string Encode(const ProxyInfoResult& r);

// Decoders: OK and *out filled when body is exactly one well-formed request of that kind;
// otherwise an error naming the request and what is wrong (*out is then unspecified).
Status Decode(std::string_view body, LoginRequest* out);
Status Decode(std::string_view body, LogRequest* out);
Status Decode(std::string_view body, EventRequest* out);
Status Decode(std::string_view body, PortConnectRequest* out);
Status Decode(std::string_view body, ProxyInfoRequest* out);
Status Decode(std::string_view body, SeccompReport* out);
Status Decode(std::string_view body, DataAcceptRequest* out);
Status Decode(std::string_view body, TlsDataStatusRequest* out);
Status Decode(std::string_view body, TlsReadyReport* out);
Status Decode(std::string_view body, TlsDataEndReport* out);
Status Decode(std::string_view body, TlsWrapAnswer* out);
Status Decode(std::string_view body, LoginResult* out);
Status Decode(std::string_view body, PasvListenResult* out);
Status Decode(std::string_view body, DataResult* out);
Status Decode(std::string_view body, StartTlsResult* out);
Status Decode(std::string_view body, ChownResult* out);
Status Decode(std::string_view body, TlsDataStatusResult* out);
Status Decode(std::string_view body, ProxyInfoResult* out);
// PASV_LISTEN, DATA_CANCEL, TLS_DATA, REINIT, CHOWN_UPLOAD and START_TLS have no body.
Status DecodeEmpty(MsgType type, std::string_view body);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_REQUESTS_H_
