// The request protocol between the jails and the monitor: every message type, its size limit and
// whether a descriptor rides with it. One definition, shared by both sides (ipc.cc carries the
// messages, monitor_requests.def says which are allowed when, monitor_client.cc builds them).
#ifndef KEEPFTPD_SRC_COMMON_IPC_MESSAGES_H_
#define KEEPFTPD_SRC_COMMON_IPC_MESSAGES_H_

#include <cstddef>
#include <cstdint>

namespace keepftpd {

// The largest message body either side accepts; longer datagrams end the connection.
inline constexpr std::size_t kMaxMessageBody = 4096;
// Bounds on the strings that travel in requests.
inline constexpr std::size_t kMaxUserName = 128;
inline constexpr std::size_t kMaxPassword = 256;
inline constexpr std::size_t kMaxLogText = 1024;
// EVENT fields (see LogEvent in log.h).
inline constexpr std::size_t kMaxEventText = 512;
inline constexpr std::size_t kMaxEventCommand = 16;
inline constexpr std::size_t kMaxEventPath = 1024;
inline constexpr std::size_t kMaxEventResult = 32;

enum class MsgType : std::uint16_t {
  // jail -> monitor requests
  kLogin = 1,        // {str user, str password, u8 prot_private} pre-login only, answered by
                     // kLoginResult
  kLog = 2,          // {u8 priority, str text} any phase, no answer
  kPasvListen = 3,   // {} answered by kPasvListenResult
  kDataAccept = 4,   // {u8 tls} answered by kDataResult (+ fd on success unless tls: then the
                     // monitor keeps it for TLS_DATA)
  kPortConnect = 5,  // {u8 family 4|6, bytes[4|16] address, u16 port, u8 tls} as kDataAccept
  kSeccompReport = 6,  // {u32 syscall number} any phase, no answer: sent by the SIGSYS handler
                       // of a jail its seccomp filter stopped (see sandbox.h); the jail exits
  kReinit = 7,       // {} session only: the session jail logs out (REIN) and exits
  kChownUpload = 8,  // {} + fd of an anonymous upload, session only (chown_uploads); answered by
                     // kChownResult
  kStartTls = 9,     // {} pre-login only (AUTH TLS): answered by kStartTlsResult + the plaintext
                     // end of the control connection, which a new TLS jail relays; the jail
                     // replies 234 on the raw connection, then swaps it for that end
  kTlsData = 10,     // {} session only: secure the data connection kept for it; answered by
                     // kDataResult with the plaintext end
  kTlsWrap = 11,     // monitor -> TLS jail: {} + the raw data connection; answered by
                     // kTlsWrapResult
  kTlsDataStatus = 12,  // {u8 upload} session only: did the TLS data connection just used
                        // end cleanly? Answered by kTlsDataStatusResult once the TLS jail has
                        // said (TLS_DATA_END)
  kTlsDataEnd = 13,  // TLS jail -> monitor: {u8 flags: 1 not broken, 2 close_notify} a data
                     // connection ended
  kEvent = 14,       // {u8 priority, str text, str command, str path, u64 bytes,
                     //  u64 duration_usec, str result, u8 transfer type, str target} no
                     //  answer (log.h)
  kProxyInfo = 16,   // {u8 kind 0 LOCAL|1 PROXY, u8 family 4|6, bytes[4|16] source, u16 port,
                     //  bytes[4|16] destination, u16 port} pre-login only, once, before any
                     // other request (proxy_protocol): what the header said; answered by
                     // kProxyInfoResult
  // 17 (HASH_FILE) and 109 (HASH_RESULT) were retired: HASH is computed in the session jail
  kTlsReady = 18,    // TLS jail -> monitor, once: {u8 ok, str why not} its context is built (from
                     // the certificate and key, before its jail) or could not be
  kTlsStart = 19,    // monitor -> TLS jail: {} the client was told to start its handshake (or
                     // implicit FTPS): take the control connection
  kDataCancel = 15,  // {} session only: stop waiting for the DATA_ACCEPT connection (the client
                     // sent ABOR or left); answered by kDataResult, not ok, if the monitor was
                     // still waiting; ignored if the DATA_RESULT had already gone
  // monitor -> jail answers
  kLoginResult = 101,       // {u8 ok, u8 close, str message}
  kPasvListenResult = 102,  // {u8 ok, u16 port, str message, u8 resolved, bytes[4] address}:
                            // resolved 1: pasv_addr_resolve gave this IPv4 address for PASV
  kDataResult = 103,        // {u8 ok, str message} + fd when ok
  kChownResult = 104,       // {u8 ok}
  kTlsWrapResult = 105,     // TLS jail -> monitor: {u8 ok, str message} + plaintext fd when ok
  kStartTlsResult = 106,    // {u8 ok, str message}
  kTlsDataStatusResult = 107,  // {u8 clean, u8 close_notify}
  kProxyInfoResult = 108,     // {u8 go_on, str reply}: without go_on the jail sends the reply
                              // (if any) and ends the connection
};

// The message types a descriptor may ride with: kDataResult (monitor to jail), kChownUpload (jail
// to monitor, the file to chown), and the TLS jail's.
constexpr bool MessageCarriesFd(MsgType type) {
  return type == MsgType::kDataResult || type == MsgType::kChownUpload ||
         type == MsgType::kTlsWrap || type == MsgType::kTlsWrapResult ||
         type == MsgType::kStartTlsResult;
}

const char* MsgTypeName(MsgType type);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_IPC_MESSAGES_H_
