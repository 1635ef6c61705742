// PROXY protocol v1 and v2 headers parsed from untrusted bytes (proxy_protocol.h). Pure logic, for
// the pre-login jail and the TLS jail, which read the header.
#include "proxy_protocol.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "strutil.h"

namespace keepftpd {

namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr char kV2SignatureBytes[12] = {'\r', '\n', '\r', '\n', '\0', '\r',
                                        '\n', 'Q',  'U',  'I',  'T',  '\n'};
constexpr std::string_view kV2Signature(kV2SignatureBytes, sizeof(kV2SignatureBytes));

ProxyParse Bad(std::string* error, std::string why) {
  *error = std::move(why);
  return ProxyParse::kBad;
}

// A decimal port: 0..65535, without a sign or leading zeros.
bool ParsePort(std::string_view text, std::uint16_t* port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535) return false;
  *port = static_cast<std::uint16_t>(v);
  return true;
}

bool ParseAddress(std::string_view text, bool v6, std::uint16_t port, SockAddr* out) {
  if (text.empty() || (text.find(':') != std::string_view::npos) != v6) return false;
  Result<SockAddr> a = SockAddr::FromHostString(text, port);
  if (!a.ok() || a->family() != (v6 ? AF_INET6 : AF_INET)) return false;
  *out = *a;
  return true;
}

ProxyParse ParseV1(std::string_view data, ProxyHeader* out, std::string* error) {
  const std::size_t limit = std::min(data.size(), kMaxProxyV1Line);
  std::size_t end = std::string_view::npos;
  for (std::size_t i = 0; i < limit; ++i) {
    const unsigned char c = static_cast<unsigned char>(data[i]);
    if (c == '\r') {
      if (i + 1 >= data.size()) return ProxyParse::kNeedMore;
      if (data[i + 1] != '\n') return Bad(error, "PROXY v1: a CR without LF");
      end = i;
      break;
    }
    if (c < 0x20 || c > 0x7e) return Bad(error, "PROXY v1: a byte that is not printable ASCII");
  }
  if (end == std::string_view::npos) {
    if (data.size() >= kMaxProxyV1Line) {
      return Bad(error, "PROXY v1: no CRLF within 107 bytes");
    }
    return ProxyParse::kNeedMore;
  }
  if (end + 2 > kMaxProxyV1Line) return Bad(error, "PROXY v1: longer than 107 bytes");
  std::vector<std::string_view> words = Split(data.substr(0, end), ' ');
  // words[0] is "PROXY"
  if (words.size() >= 2 && words[1] == "UNKNOWN") {
    out->kind = ProxyHeader::Kind::kLocal;
    out->version = 1;
    out->length = end + 2;
    return ProxyParse::kOk;
  }
  if (words.size() != 6 || (words[1] != "TCP4" && words[1] != "TCP6")) {
    return Bad(error, "PROXY v1: expected 'PROXY TCP4|TCP6 SRC DST SPORT DPORT' or UNKNOWN");
  }
  const bool v6 = words[1] == "TCP6";
  std::uint16_t sport = 0, dport = 0;
  if (!ParsePort(words[4], &sport) || !ParsePort(words[5], &dport)) {
    return Bad(error, "PROXY v1: a bad port");
  }
  if (!ParseAddress(words[2], v6, sport, &out->source) ||
      !ParseAddress(words[3], v6, dport, &out->destination)) {
    return Bad(error, std::string("PROXY v1: a bad ") + (v6 ? "IPv6" : "IPv4") + " address");
  }
  out->kind = ProxyHeader::Kind::kProxy;
  out->version = 1;
  out->length = end + 2;
  return ProxyParse::kOk;
}

ProxyParse ParseV2(std::string_view data, ProxyHeader* out, std::string* error) {
  if (data.size() < 16) return ProxyParse::kNeedMore;
  const auto* b = reinterpret_cast<const std::uint8_t*>(data.data());
  if ((b[12] >> 4) != 2) return Bad(error, "PROXY v2: version is not 2");
  const unsigned command = b[12] & 0x0f;
  if (command > 1) return Bad(error, "PROXY v2: unknown command");
  const unsigned family = b[13] >> 4, transport = b[13] & 0x0f;
  const std::size_t length = (std::size_t{b[14]} << 8) | b[15];
  if (length > kMaxProxyV2Body) return Bad(error, "PROXY v2: header longer than keepftpd takes");
  if (data.size() < 16 + length) return ProxyParse::kNeedMore;
  out->version = 2;
  out->length = 16 + length;
  if (family > 3 || transport > 2) return Bad(error, "PROXY v2: unknown address family");
  if (command == 0 || family == 0) {  // LOCAL, or PROXY with UNSPEC: no client address
    out->kind = ProxyHeader::Kind::kLocal;
    return ProxyParse::kOk;
  }
  if (family == 3) return Bad(error, "PROXY v2: a UNIX socket address is not a client address");
  if (transport != 1) return Bad(error, "PROXY v2: not a TCP (stream) connection");
  const std::uint8_t* a = b + 16;
  if (family == 1) {
    if (length < 12) return Bad(error, "PROXY v2: IPv4 addresses cut short");
    out->source = SockAddr::V4(a, static_cast<std::uint16_t>((a[8] << 8) | a[9]));
    out->destination = SockAddr::V4(a + 4, static_cast<std::uint16_t>((a[10] << 8) | a[11]));
  } else {
    if (length < 36) return Bad(error, "PROXY v2: IPv6 addresses cut short");
    out->source = SockAddr::V6(a, static_cast<std::uint16_t>((a[32] << 8) | a[33]));
    out->destination = SockAddr::V6(a + 16, static_cast<std::uint16_t>((a[34] << 8) | a[35]));
  }
  out->kind = ProxyHeader::Kind::kProxy;
  return ProxyParse::kOk;
}

}  // namespace

ProxyParse ParseProxyHeader(std::string_view data, ProxyHeader* out, std::string* error) {
  *out = ProxyHeader();
  const std::size_t v1 = std::min(data.size(), kV1Prefix.size());
  if (data.substr(0, v1) == kV1Prefix.substr(0, v1)) {
    return data.size() < kV1Prefix.size() ? ProxyParse::kNeedMore : ParseV1(data, out, error);
  }
  const std::size_t v2 = std::min(data.size(), kV2Signature.size());
  if (data.substr(0, v2) == kV2Signature.substr(0, v2)) {
    return data.size() < kV2Signature.size() ? ProxyParse::kNeedMore : ParseV2(data, out, error);
  }
  return Bad(error, "not a PROXY protocol header");
}

ProxyParse ReceiveProxyHeader(int fd, ProxyHeader* out, std::string* bytes, std::string* error) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  std::string buf(kMaxProxyHeader, '\0');
  std::size_t seen = 0;
  *error = "no PROXY header within " + std::to_string(kProxyHeaderSeconds) + " seconds";
  while (true) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = kProxyHeaderSeconds * 1000L - ((now.tv_sec - start.tv_sec) * 1000L +
                                               (now.tv_nsec - start.tv_nsec) / 1000000L);
    if (left <= 0) return ProxyParse::kBad;
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    ssize_t n = recv(fd, buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return ProxyParse::kNeedMore;
    if (n < 0) continue;
    ProxyParse r = ParseProxyHeader(std::string_view(buf.data(), static_cast<std::size_t>(n)),
                                    out, error);
    if (r == ProxyParse::kBad) return r;
    if (r == ProxyParse::kOk) {
      bytes->clear();
      while (bytes->size() < out->length) {  // consume exactly the header
        ssize_t m = recv(fd, buf.data(), out->length - bytes->size(), 0);
        if (m < 0 && errno == EINTR) continue;
        if (m <= 0) return ProxyParse::kNeedMore;
        bytes->append(buf.data(), static_cast<std::size_t>(m));
      }
      return r;
    }
    // Part of a header: wait for the rest without spinning on the bytes already here.
    if (static_cast<std::size_t>(n) == seen) poll(nullptr, 0, 10);
    seen = static_cast<std::size_t>(n);
  }
}

}  // namespace keepftpd
