// Fuzz target: the first bytes of a connection from a load balancer, through
// ParseProxyHeader (PROXY protocol v1 and v2), as the pre-login jail reads them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "proxy_protocol.h"

using keepftpd::ParseProxyHeader;
using keepftpd::ProxyHeader;
using keepftpd::ProxyParse;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ProxyHeader h;
  std::string error;
  const ProxyParse r = ParseProxyHeader(in, &h, &error);
  if (r == ProxyParse::kBad) {
    FUZZ_CHECK(!error.empty());
    // Nothing appended can make a refused header good.
    ProxyHeader more;
    FUZZ_CHECK(ParseProxyHeader(std::string(in) + "\r\n\r\n", &more, &error) == ProxyParse::kBad);
    return 0;
  }
  if (r == ProxyParse::kNeedMore) {
    FUZZ_CHECK(size < keepftpd::kMaxProxyHeader);
    return 0;
  }
  // A whole header: within the input and the limits, the same when cut to its length, and
  // every shorter prefix still waits for more.
  FUZZ_CHECK(h.length > 0 && h.length <= size);
  FUZZ_CHECK(h.version == 1 ? h.length <= keepftpd::kMaxProxyV1Line
                            : h.version == 2 && h.length >= 16 &&
                                  h.length <= keepftpd::kMaxProxyHeader);
  ProxyHeader cut;
  FUZZ_CHECK(ParseProxyHeader(in.substr(0, h.length), &cut, &error) == ProxyParse::kOk);
  FUZZ_CHECK(cut.length == h.length && cut.kind == h.kind);
  for (std::size_t n = 0; n < h.length; n += 1 + n / 8) {
    ProxyHeader part;
    FUZZ_CHECK(ParseProxyHeader(in.substr(0, n), &part, &error) == ProxyParse::kNeedMore);
  }
  if (h.kind == ProxyHeader::Kind::kProxy) {
    FUZZ_CHECK(h.source.family() == h.destination.family());
    FUZZ_CHECK(h.source.family() == AF_INET || h.source.family() == AF_INET6);
    FUZZ_CHECK(cut.source.HostString() == h.source.HostString());
    FUZZ_CHECK(cut.source.port() == h.source.port());
  }
  return 0;
}
