// Fuzz target: the data-connection address arguments a client sends (PORT, EPRT, EPSV), parsed
// by the session jail and re-checked by the monitor, and the PASV reply built from a result.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "sockaddr.h"

using keepftpd_fuzz::EndsWith;

namespace {

void CheckPort(std::string_view arg) {
  keepftpd::Result<keepftpd::SockAddr> r = keepftpd::ParsePortArgument(arg);
  if (!r.ok()) {
    FUZZ_CHECK(!r.status().message().empty());
    return;
  }
  const keepftpd::SockAddr& addr = *r;
  FUZZ_CHECK(addr.family() == AF_INET);
  std::uint8_t bytes[4];
  FUZZ_CHECK(addr.GetV4Bytes(bytes));

  // The PASV reply carries the same six numbers: parsing them back gives the same address.
  const std::string reply = keepftpd::FormatPasvReply(addr, addr.port());
  FUZZ_CHECK(reply.rfind("Entering Passive Mode (", 0) == 0);
  FUZZ_CHECK(EndsWith(reply, ")."));
  const std::size_t open = reply.find('(');
  const std::string inner = reply.substr(open + 1, reply.size() - open - 3);
  keepftpd::Result<keepftpd::SockAddr> again = keepftpd::ParsePortArgument(inner);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->port() == addr.port());
  FUZZ_CHECK(again->HostString() == addr.HostString());

  // The numeric host string is one the address parser accepts back.
  keepftpd::Result<keepftpd::SockAddr> host =
      keepftpd::SockAddr::FromHostString(addr.HostString(), addr.port());
  FUZZ_CHECK(host.ok());
  FUZZ_CHECK(host->SameHost(addr));
}

void CheckEprt(std::string_view arg) {
  keepftpd::Result<keepftpd::EprtResult> r = keepftpd::ParseEprtArgument(arg);
  if (!r.ok()) {
    FUZZ_CHECK(!r.status().message().empty());
    return;
  }
  FUZZ_CHECK(arg.size() >= 2 && arg.front() == arg.back());
  if (r->unsupported_family) return;
  const keepftpd::SockAddr& addr = r->addr;
  FUZZ_CHECK(addr.family() == AF_INET || addr.family() == AF_INET6);
  FUZZ_CHECK(addr.port() != 0);

  const keepftpd::SockAddr norm = addr.Normalized();
  FUZZ_CHECK(norm.family() == AF_INET || norm.family() == AF_INET6);
  FUZZ_CHECK(norm.port() == addr.port());
  FUZZ_CHECK(norm.SameHost(addr));
  if (norm.family() == AF_INET6) FUZZ_CHECK(!norm.IsV4Mapped());
  const std::string host = addr.HostString();
  FUZZ_CHECK(!host.empty());
  keepftpd::Result<keepftpd::SockAddr> back = keepftpd::SockAddr::FromHostString(host, addr.port());
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->SameHost(addr));

  // What the monitor would answer for a passive listener on this family must not crash either.
  (void)keepftpd::FormatPasvReply(norm, addr.port());
  (void)keepftpd::FormatEpsvReply(addr.port());
}

void CheckEpsv(std::string_view arg) {
  switch (keepftpd::ParseEpsvArgument(arg)) {
    case keepftpd::EpsvArg::kNone: FUZZ_CHECK(arg.empty()); break;
    case keepftpd::EpsvArg::kAll: FUZZ_CHECK(arg.size() == 3); break;
    case keepftpd::EpsvArg::kIpv4: FUZZ_CHECK(arg == "1"); break;
    case keepftpd::EpsvArg::kIpv6: FUZZ_CHECK(arg == "2"); break;
    case keepftpd::EpsvArg::kBad: FUZZ_CHECK(!arg.empty()); break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view arg(reinterpret_cast<const char*>(data), size);
  CheckPort(arg);
  CheckEprt(arg);
  CheckEpsv(arg);
  return 0;
}
