// Socket addresses and the FTP arguments that carry them: PORT, EPRT, EPSV arguments parsed,
// PASV and EPSV replies formatted. Pure logic except FromPeer/FromLocal. Shared: the session jail
// parses, the monitor re-checks.
#ifndef KEEPFTPD_SRC_COMMON_SOCKADDR_H_
#define KEEPFTPD_SRC_COMMON_SOCKADDR_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace keepftpd {

class SockAddr {
 public:
  SockAddr() = default;
  // Takes a sockaddr_in or sockaddr_in6 (anything else: family() returns AF_UNSPEC).
  SockAddr(const sockaddr* sa, socklen_t len);
  static SockAddr V4(const std::uint8_t bytes[4], std::uint16_t port);
  static SockAddr V6(const std::uint8_t bytes[16], std::uint16_t port);
  // getpeername / getsockname of a connected socket.
  static Result<SockAddr> FromPeer(int fd);
  static Result<SockAddr> FromLocal(int fd);
  // Parses a numeric host ("127.0.0.1", "::1"), no port.
  static Result<SockAddr> FromHostString(std::string_view host, std::uint16_t port);

  int family() const;  // AF_INET, AF_INET6 or AF_UNSPEC
  bool IsV4Mapped() const;
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) turned into AF_INET; others unchanged.
  SockAddr Normalized() const;
  // Same host after normalisation, ports ignored.
  bool SameHost(const SockAddr& other) const;
  std::uint16_t port() const;
  void set_port(std::uint16_t port);
  // Numeric host, normalised: "127.0.0.1", "::1" (no brackets, no port).
  std::string HostString() const;
  // For the IPv4 address of a normalised AF_INET address: the 4 bytes.
  bool GetV4Bytes(std::uint8_t out[4]) const;

  const sockaddr* raw() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t raw_len() const { return len_; }

 private:
  sockaddr_storage storage_ = {};
  socklen_t len_ = 0;
};

// An address or a network: "192.0.2.1", "10.0.0.0/8", "2001:db8::/32" (proxy_trusted_addresses).
struct Network {
  SockAddr base;        // normalised
  unsigned prefix = 0;  // bits that must match
  bool Contains(const SockAddr& addr) const;
};
// A comma-separated list of networks (spaces around entries allowed); fails naming the entry.
Result<std::vector<Network>> ParseNetworkList(std::string_view text);
bool InNetworks(const std::vector<Network>& networks, const SockAddr& addr);

// pasv_address_map: "10.0.0.0/8=10.0.0.5, 192.168.0.0/16=192.168.1.5", the IPv4 address PASV
// announces to clients in each network; fails naming the entry. An empty text has no rules.
struct PasvAddressRule {
  Network network;
  SockAddr address;  // AF_INET
};
Result<std::vector<PasvAddressRule>> ParsePasvAddressMap(std::string_view text);
// The first rule's address whose network holds client, or nullptr.
const SockAddr* PasvAddressFor(const std::vector<PasvAddressRule>& rules, const SockAddr& client);

// "h1,h2,h3,h4,p1,p2" (spaces around numbers tolerated, each 0..255) -> AF_INET address.
Result<SockAddr> ParsePortArgument(std::string_view arg);

// RFC 2428 "<d>1<d>1.2.3.4<d>port<d>" or "<d>2<d>::1<d>port<d>"; d is any byte 33..126 used
// consistently; port 1..65535 in decimal. Family 1 needs an IPv4 dotted quad, 2 an IPv6 address
// (an IPv4-mapped one is allowed). Fails on anything else, with a message saying why.
struct EprtResult {
  SockAddr addr;
  bool unsupported_family = false;  // family number other than 1 or 2: reply 522
};
Result<EprtResult> ParseEprtArgument(std::string_view arg);

// EPSV argument: none, "ALL" (case-insensitive), "1", "2", another protocol number (kOther,
// which RFC 2428 answers with 522); anything else is kBad.
enum class EpsvArg { kNone, kAll, kIpv4, kIpv6, kOther, kBad };
EpsvArg ParseEpsvArgument(std::string_view arg);

// "Entering Passive Mode (127,0,0,1,195,80)." for addr (AF_INET, after Normalized()) and port.
std::string FormatPasvReply(const SockAddr& addr, std::uint16_t port);
// "Entering Extended Passive Mode (|||50000|)"
std::string FormatEpsvReply(std::uint16_t port);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_SOCKADDR_H_
