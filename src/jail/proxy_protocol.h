// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a load
// balancer sends before the client's first byte, carrying the client's real address. Pure
// parsing of untrusted bytes: for the pre-login jail, which reads the header, and the TLS jail,
// which finds where it ends with implicit FTPS; the monitor only ever sees the addresses it
// yields.
#ifndef KEEPFTPD_SRC_JAIL_PROXY_PROTOCOL_H_
#define KEEPFTPD_SRC_JAIL_PROXY_PROTOCOL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "sockaddr.h"

namespace keepftpd {

// Version 1 is one line of at most 107 bytes with its CRLF; version 2 is 16 bytes and at most
// kMaxProxyV2Body more (addresses and TLVs, which are skipped).
inline constexpr std::size_t kMaxProxyV1Line = 107;
inline constexpr std::size_t kMaxProxyV2Body = 2048;
inline constexpr std::size_t kMaxProxyHeader = 16 + kMaxProxyV2Body;

struct ProxyHeader {
  enum class Kind {
    kProxy,  // a proxied TCP connection: source and destination are the client's and ours
    kLocal,  // v2 LOCAL (the balancer's own health check), or v1 UNKNOWN / v2 UNSPEC: no
             // client address; the connection's own addresses stand
  };
  Kind kind = Kind::kLocal;
  int version = 0;          // 1 or 2
  SockAddr source;          // kProxy: the client, with its port
  SockAddr destination;     // kProxy: the address the client connected to
  std::size_t length = 0;   // bytes of the header, to consume from the connection
};

enum class ProxyParse { kNeedMore, kOk, kBad };

// Parses the first bytes of a connection. kNeedMore while data is a proper prefix of a header
// that could still be valid; kBad (with *error saying why) as soon as it cannot be one;
// kOk with *out filled once a whole header is there (bytes after out->length are not looked at).
ProxyParse ParseProxyHeader(std::string_view data, ProxyHeader* out, std::string* error);

// Reads one header from the socket fd within kProxyHeaderSeconds, consuming exactly its bytes
// (copied to *bytes) and nothing after them: kOk with *out; kBad with *error (malformed, or
// none in time); kNeedMore when the peer left first. The pre-login jail reads the header this
// way; with implicit_ssl the TLS jail does, before the handshake, and passes the bytes on.
inline constexpr int kProxyHeaderSeconds = 5;
ProxyParse ReceiveProxyHeader(int fd, ProxyHeader* out, std::string* bytes, std::string* error);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_PROXY_PROTOCOL_H_
