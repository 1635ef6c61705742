// Socket addresses and the FTP arguments that carry them (PORT, EPRT, EPSV; PASV/EPSV replies).
// Numeric only: nothing here resolves a name. Shared by the session jail and the monitor.
#include "sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>

#include <cstring>
#include <vector>

#include "strutil.h"

namespace keepftpd {

namespace {

constexpr std::uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

const sockaddr_in* AsV4(const sockaddr_storage& ss) {
  return reinterpret_cast<const sockaddr_in*>(&ss);
}
const sockaddr_in6* AsV6(const sockaddr_storage& ss) {
  return reinterpret_cast<const sockaddr_in6*>(&ss);
}

Status ParseError(std::string_view what, std::string_view arg) {
  return Status::Error(std::string(what) + ": \"" + SanitizeForLog(arg) + "\"");
}

}  // namespace

SockAddr::SockAddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr) return;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&storage_, sa, sizeof(sockaddr_in));
    len_ = sizeof(sockaddr_in);
  } else if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(&storage_, sa, sizeof(sockaddr_in6));
    len_ = sizeof(sockaddr_in6);
  }
}

SockAddr SockAddr::V4(const std::uint8_t bytes[4], std::uint16_t port) {
  sockaddr_in sin = {};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  std::memcpy(&sin.sin_addr, bytes, 4);
  return SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
}

SockAddr SockAddr::V6(const std::uint8_t bytes[16], std::uint16_t port) {
  sockaddr_in6 sin6 = {};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  std::memcpy(&sin6.sin6_addr, bytes, 16);
  return SockAddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6));
}

Result<SockAddr> SockAddr::FromPeer(int fd) {
  sockaddr_storage ss = {};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Status::FromErrno(errno, "getpeername");
  }
  SockAddr addr(reinterpret_cast<const sockaddr*>(&ss), len);
  if (addr.family() == AF_UNSPEC) return Status::Error("getpeername: not an IP socket");
  return addr;
}

Result<SockAddr> SockAddr::FromLocal(int fd) {
  sockaddr_storage ss = {};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Status::FromErrno(errno, "getsockname");
  }
  SockAddr addr(reinterpret_cast<const sockaddr*>(&ss), len);
  if (addr.family() == AF_UNSPEC) return Status::Error("getsockname: not an IP socket");
  return addr;
}

Result<SockAddr> SockAddr::FromHostString(std::string_view host, std::uint16_t port) {
  // inet_pton needs a NUL-terminated string; an embedded NUL must not shorten the input.
  if (host.find('\0') != std::string_view::npos) return ParseError("not a numeric host", host);
  std::string h(host);
  std::uint8_t bytes[16];
  if (inet_pton(AF_INET, h.c_str(), bytes) == 1) return V4(bytes, port);
  if (inet_pton(AF_INET6, h.c_str(), bytes) == 1) return V6(bytes, port);
  return ParseError("not a numeric host", host);
}

int SockAddr::family() const { return len_ == 0 ? AF_UNSPEC : storage_.ss_family; }

bool SockAddr::IsV4Mapped() const {
  if (family() != AF_INET6) return false;
  return std::memcmp(&AsV6(storage_)->sin6_addr, kV4MappedPrefix, sizeof(kV4MappedPrefix)) == 0;
}

SockAddr SockAddr::Normalized() const {
  if (!IsV4Mapped()) return *this;
  const auto* addr = reinterpret_cast<const std::uint8_t*>(&AsV6(storage_)->sin6_addr);
  return V4(addr + 12, port());
}

bool SockAddr::SameHost(const SockAddr& other) const {
  SockAddr a = Normalized();
  SockAddr b = other.Normalized();
  if (a.family() != b.family()) return false;
  switch (a.family()) {
    case AF_INET:
      return AsV4(a.storage_)->sin_addr.s_addr == AsV4(b.storage_)->sin_addr.s_addr;
    case AF_INET6:
      return std::memcmp(&AsV6(a.storage_)->sin6_addr, &AsV6(b.storage_)->sin6_addr,
                         sizeof(in6_addr)) == 0;
    default:
      return false;  // two unset addresses are not "the same host"
  }
}

std::uint16_t SockAddr::port() const {
  switch (family()) {
    case AF_INET: return ntohs(AsV4(storage_)->sin_port);
    case AF_INET6: return ntohs(AsV6(storage_)->sin6_port);
    default: return 0;
  }
}

void SockAddr::set_port(std::uint16_t port) {
  switch (family()) {
    case AF_INET: reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port); break;
    case AF_INET6: reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port); break;
    default: break;
  }
}

std::string SockAddr::HostString() const {
  SockAddr n = Normalized();
  char buf[INET6_ADDRSTRLEN] = {};
  const char* p = nullptr;
  switch (n.family()) {
    case AF_INET: p = inet_ntop(AF_INET, &AsV4(n.storage_)->sin_addr, buf, sizeof(buf)); break;
    case AF_INET6: p = inet_ntop(AF_INET6, &AsV6(n.storage_)->sin6_addr, buf, sizeof(buf)); break;
    default: break;
  }
  return p == nullptr ? std::string() : std::string(p);
}

bool SockAddr::GetV4Bytes(std::uint8_t out[4]) const {
  SockAddr n = Normalized();
  if (n.family() != AF_INET) return false;
  std::memcpy(out, &AsV4(n.storage_)->sin_addr, 4);
  return true;
}

Result<SockAddr> ParsePortArgument(std::string_view arg) {
  std::vector<std::string_view> fields = Split(arg, ',');
  if (fields.size() != 6) return ParseError("PORT needs six comma-separated numbers", arg);
  std::uint8_t v[6];
  for (std::size_t i = 0; i < 6; ++i) {
    std::optional<std::uint64_t> n = ParseDecimal(TrimSpaces(fields[i]), 255);
    if (!n) return ParseError("PORT numbers must be 0..255", arg);
    v[i] = static_cast<std::uint8_t>(*n);
  }
  return SockAddr::V4(v, static_cast<std::uint16_t>(v[4] << 8 | v[5]));
}

Result<EprtResult> ParseEprtArgument(std::string_view arg) {
  // <d><family><d><address><d><port><d>
  if (arg.size() < 2) return ParseError("EPRT argument too short", arg);
  const char d = arg.front();
  if (d < 33 || d > 126) return ParseError("EPRT delimiter must be printable ASCII", arg);
  if (arg.back() != d) return ParseError("EPRT argument must end with its delimiter", arg);
  std::vector<std::string_view> fields = Split(arg, d);
  // Four delimiters make five fields, the first and last empty.
  if (fields.size() != 5 || !fields[0].empty() || !fields[4].empty()) {
    return ParseError("EPRT needs exactly four identical delimiters", arg);
  }
  std::string_view family = fields[1];
  std::string_view host = fields[2];
  std::string_view port_text = fields[3];
  std::optional<std::uint64_t> family_num = ParseDecimal(family, 65535);
  if (!family_num) return ParseError("EPRT family must be a number", arg);
  if (host.empty()) return ParseError("EPRT address is empty", arg);
  std::optional<std::uint64_t> port = ParseDecimal(port_text, 65535);
  if (!port || *port == 0) return ParseError("EPRT port must be 1..65535", arg);

  EprtResult result;
  if (*family_num != 1 && *family_num != 2) {
    result.unsupported_family = true;
    return result;
  }
  if (host.find('\0') != std::string_view::npos) return ParseError("EPRT bad address", arg);
  std::string h(host);
  std::uint8_t bytes[16];
  if (*family_num == 1) {
    if (inet_pton(AF_INET, h.c_str(), bytes) != 1) {
      return ParseError("EPRT family 1 needs an IPv4 dotted quad", arg);
    }
    result.addr = SockAddr::V4(bytes, static_cast<std::uint16_t>(*port));
  } else {
    if (inet_pton(AF_INET6, h.c_str(), bytes) != 1) {
      return ParseError("EPRT family 2 needs an IPv6 address", arg);
    }
    result.addr = SockAddr::V6(bytes, static_cast<std::uint16_t>(*port));
  }
  return result;
}

EpsvArg ParseEpsvArgument(std::string_view arg) {
  if (arg.empty()) return EpsvArg::kNone;
  if (EqualsIgnoreCase(arg, "ALL")) return EpsvArg::kAll;
  if (arg == "1") return EpsvArg::kIpv4;
  if (arg == "2") return EpsvArg::kIpv6;
  if (ParseDecimal(arg, 65535)) return EpsvArg::kOther;
  return EpsvArg::kBad;
}

std::string FormatPasvReply(const SockAddr& addr, std::uint16_t port) {
  std::uint8_t b[4] = {0, 0, 0, 0};  // an address that is not IPv4 shows as 0,0,0,0
  addr.GetV4Bytes(b);
  std::string out = "Entering Passive Mode (";
  for (std::uint8_t byte : b) {
    out += std::to_string(byte);
    out += ',';
  }
  out += std::to_string(port >> 8);
  out += ',';
  out += std::to_string(port & 0xff);
  out += ").";
  return out;
}

std::string FormatEpsvReply(std::uint16_t port) {
  return "Entering Extended Passive Mode (|||" + std::to_string(port) + "|)";
}

bool Network::Contains(const SockAddr& addr) const {
  SockAddr a = addr.Normalized();
  if (a.family() != base.family()) return false;
  const std::uint8_t *x, *y;
  if (a.family() == AF_INET) {
    x = reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(a.raw())->sin_addr);
    y = reinterpret_cast<const std::uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(base.raw())->sin_addr);
  } else {
    x = reinterpret_cast<const std::uint8_t*>(&AsV6(*reinterpret_cast<const sockaddr_storage*>(a.raw()))->sin6_addr);
    y = reinterpret_cast<const std::uint8_t*>(
        &AsV6(*reinterpret_cast<const sockaddr_storage*>(base.raw()))->sin6_addr);
  }
  for (unsigned bit = 0; bit < prefix; bit += 8) {
    const unsigned left = prefix - bit;
    const std::uint8_t mask = left >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - left));
    if ((x[bit / 8] & mask) != (y[bit / 8] & mask)) return false;
  }
  return true;
}

namespace {

// Calls f on each comma-separated entry of text, trimmed of spaces; stops at f's first error.
template <typename F>
Status ForEachListEntry(std::string_view text, F f) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view entry = text.substr(start, comma - start);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    Status s = f(entry);
    if (!s.ok()) return s;
    start = comma + 1;
  }
  return Status::Ok();
}

Result<Network> ParseNetwork(std::string_view entry) {
  std::string_view host = entry;
  std::size_t slash = entry.find('/');
  Network n;
  if (slash != std::string_view::npos) host = entry.substr(0, slash);
  Result<SockAddr> a = SockAddr::FromHostString(host, 0);
  if (!a.ok()) return ParseError("not an address or network", entry);
  n.base = a->Normalized();
  const unsigned max = n.base.family() == AF_INET ? 32 : 128;
  n.prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view bits = entry.substr(slash + 1);
    unsigned v = 0;
    if (bits.empty() || bits.size() > 3) return ParseError("bad prefix length", entry);
    for (char c : bits) {
      if (c < '0' || c > '9') return ParseError("bad prefix length", entry);
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > max) return ParseError("bad prefix length", entry);
    n.prefix = v;
  }
  return n;
}

}  // namespace

Result<std::vector<Network>> ParseNetworkList(std::string_view text) {
  std::vector<Network> out;
  Status s = ForEachListEntry(text, [&](std::string_view entry) {
    Result<Network> n = ParseNetwork(entry);
    if (!n.ok()) return n.status();
    out.push_back(*n);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<PasvAddressRule>> ParsePasvAddressMap(std::string_view text) {
  std::vector<PasvAddressRule> out;
  if (text.empty()) return out;  // unset: no rules
  Status s = ForEachListEntry(text, [&](std::string_view entry) {
    std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) {
      return ParseError("expected NETWORK=ADDRESS, like 10.0.0.0/8=10.0.0.5", entry);
    }
    Result<Network> n = ParseNetwork(entry.substr(0, eq));
    if (!n.ok()) return n.status();
    std::string_view host = entry.substr(eq + 1);
    Result<SockAddr> a = SockAddr::FromHostString(host, 0);
    if (!a.ok() || a->Normalized().family() != AF_INET) {
      return ParseError("not an IPv4 address (PASV can announce no other)", host);
    }
    out.push_back(PasvAddressRule{*n, a->Normalized()});
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

const SockAddr* PasvAddressFor(const std::vector<PasvAddressRule>& rules,
                               const SockAddr& client) {
  for (const PasvAddressRule& rule : rules) {
    if (rule.network.Contains(client)) return &rule.address;
  }
  return nullptr;
}

bool InNetworks(const std::vector<Network>& networks, const SockAddr& addr) {
  for (const Network& n : networks) {
    if (n.Contains(addr)) return true;
  }
  return false;
}

}  // namespace keepftpd
