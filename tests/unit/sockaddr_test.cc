// Tests for src/common/sockaddr.cc: PORT/EPRT/EPSV parsing, PASV/EPSV replies, address normalisation.
#include "sockaddr.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <string>

// The build has no exceptions, so doctest's REQUIRE is unavailable: check, then leave the test.
#define CHECK_OK_OR_RETURN(r) \
  do {                        \
    CHECK((r).ok());          \
    if (!(r).ok()) return;    \
  } while (0)

namespace keepftpd {
namespace {

SockAddr Host(std::string_view host, std::uint16_t port = 0) {
  Result<SockAddr> r = SockAddr::FromHostString(host, port);
  CHECK_MESSAGE(r.ok(), host);
  return r.ok() ? r.value() : SockAddr();
}

TEST_CASE("PORT with six numbers gives an IPv4 address and port") {
  Result<SockAddr> r = ParsePortArgument("127,0,0,1,195,80");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->family() == AF_INET);
  CHECK(r->HostString() == "127.0.0.1");
  CHECK(r->port() == 195 * 256 + 80);

  r = ParsePortArgument("255,255,255,255,255,255");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->HostString() == "255.255.255.255");
  CHECK(r->port() == 65535);

  r = ParsePortArgument("0,0,0,0,0,0");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->port() == 0);
}

TEST_CASE("PORT tolerates spaces around each number") {
  Result<SockAddr> r = ParsePortArgument(" 10 , 1,2 ,3,  4,5 ");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->HostString() == "10.1.2.3");
  CHECK(r->port() == 4 * 256 + 5);
}

TEST_CASE("PORT rejects malformed arguments") {
  const char* bad[] = {
      "",                       // empty
      "127,0,0,1,195",          // 5 fields
      "127,0,0,1,195,80,1",     // 7 fields
      "256,0,0,1,195,80",       // out of range
      "127,0,0,1,195,256",      // out of range
      "127,0,0,1,195,1000",     // out of range
      "a,0,0,1,195,80",         // letters
      "127,0,0,1,0x1,80",       // hex
      "127,,0,1,195,80",        // empty field
      "127,0,0,1,195,",         // empty last field
      ",0,0,1,195,80",          // empty first field
      "127,0,0,1,1 95,80",      // space inside a number
      "-1,0,0,1,195,80",        // sign
      "+1,0,0,1,195,80",        // sign
      "127.0.0.1,195,80",       // dots
      "127,0,0,1,195,80,",      // trailing comma
      "99999999999999999999999,0,0,1,1,1",  // huge
  };
  for (const char* arg : bad) {
    CAPTURE(arg);
    CHECK_FALSE(ParsePortArgument(arg).ok());
  }
}

TEST_CASE("EPRT with an IPv4 address") {
  Result<EprtResult> r = ParseEprtArgument("|1|132.235.1.2|6275|");
  CHECK_OK_OR_RETURN(r);
  CHECK_FALSE(r->unsupported_family);
  CHECK(r->addr.family() == AF_INET);
  CHECK(r->addr.HostString() == "132.235.1.2");
  CHECK(r->addr.port() == 6275);
}

TEST_CASE("EPRT with an IPv6 address") {
  Result<EprtResult> r = ParseEprtArgument("|2|1080::8:800:200C:417A|5282|");
  CHECK_OK_OR_RETURN(r);
  CHECK_FALSE(r->unsupported_family);
  CHECK(r->addr.family() == AF_INET6);
  CHECK(r->addr.HostString() == "1080::8:800:200c:417a");
  CHECK(r->addr.port() == 5282);

  r = ParseEprtArgument("|2|::1|65535|");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->addr.HostString() == "::1");
  CHECK(r->addr.port() == 65535);
}

TEST_CASE("EPRT family 2 accepts an IPv4-mapped address") {
  Result<EprtResult> r = ParseEprtArgument("|2|::ffff:10.0.0.1|21|");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->addr.IsV4Mapped());
  CHECK(r->addr.HostString() == "10.0.0.1");
}

TEST_CASE("EPRT accepts any printable delimiter used consistently") {
  for (const char* arg : {"!1!10.0.0.1!21!", "~1~10.0.0.1~21~", "#2#::1#21#", "a1a10.0.0.1a21a"}) {
    CAPTURE(arg);
    Result<EprtResult> r = ParseEprtArgument(arg);
    CHECK_OK_OR_RETURN(r);
    CHECK(r->addr.port() == 21);
  }
}

TEST_CASE("EPRT rejects bad or mixed delimiters") {
  const char* bad[] = {
      "",
      "|",
      "||",
      " 1 10.0.0.1 21 ",          // space (32) is not a valid delimiter
      "\x7f" "1\x7f" "10.0.0.1\x7f" "21\x7f",  // DEL (127) is not either
      "\t1\t10.0.0.1\t21\t",
      "|1!10.0.0.1|21|",          // mixed
      "|1|10.0.0.1!21|",          // mixed
      "|1|10.0.0.1|21!",          // mixed at the end
      "|1|10.0.0.1|21",           // missing last delimiter
      "1|10.0.0.1|21|",           // missing first delimiter
      "|1|10.0.0.1|21||",         // five delimiters
      "||1|10.0.0.1|21|",
      "|1|10.0.0.1||21|",
  };
  for (const char* arg : bad) {
    CAPTURE(arg);
    CHECK_FALSE(ParseEprtArgument(arg).ok());
  }
}

TEST_CASE("EPRT rejects addresses that do not match the family") {
  const char* bad[] = {
      "|1|1.2.3|21|",       // not a dotted quad
      "|1|1.2.3.4.5|21|",
      "|1|256.0.0.1|21|",
      "|1|::1|21|",         // IPv6 under family 1
      "|1|localhost|21|",   // never resolved
      "|1||21|",            // empty address
      "|2|10.0.0.1|21|",    // IPv4 under family 2
      "|2|::1::2|21|",
      "|2|localhost|21|",
      "|2||21|",
  };
  for (const char* arg : bad) {
    CAPTURE(arg);
    CHECK_FALSE(ParseEprtArgument(arg).ok());
  }
}

TEST_CASE("EPRT with an unknown family number reports unsupported_family") {
  Result<EprtResult> r = ParseEprtArgument("|3|whatever|21|");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->unsupported_family);
  r = ParseEprtArgument("|99|1.2.3.4|21|");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->unsupported_family);
  // A family that is not a number is a syntax error, not an unsupported family.
  CHECK_FALSE(ParseEprtArgument("|x|1.2.3.4|21|").ok());
  CHECK_FALSE(ParseEprtArgument("||1.2.3.4|21|").ok());
}

TEST_CASE("EPRT rejects bad ports") {
  const char* bad[] = {
      "|1|10.0.0.1|0|",     "|1|10.0.0.1|65536|", "|1|10.0.0.1|-1|",  "|1|10.0.0.1| 21|",
      "|1|10.0.0.1|21 |",   "|1|10.0.0.1|+21|",   "|1|10.0.0.1||",    "|1|10.0.0.1|2x|",
      "|1|10.0.0.1|99999999999999999999999|",     "|3|x|0|",
  };
  for (const char* arg : bad) {
    CAPTURE(arg);
    CHECK_FALSE(ParseEprtArgument(arg).ok());
  }
  Result<EprtResult> r = ParseEprtArgument("|1|10.0.0.1|1|");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->addr.port() == 1);
}

TEST_CASE("EPSV arguments") {
  CHECK(ParseEpsvArgument("") == EpsvArg::kNone);
  CHECK(ParseEpsvArgument("ALL") == EpsvArg::kAll);
  CHECK(ParseEpsvArgument("all") == EpsvArg::kAll);
  CHECK(ParseEpsvArgument("AlL") == EpsvArg::kAll);
  CHECK(ParseEpsvArgument("1") == EpsvArg::kIpv4);
  CHECK(ParseEpsvArgument("2") == EpsvArg::kIpv6);
  // Other protocol numbers are understood, and refused with RFC 2428's 522.
  for (const char* arg : {"3", "0", "01", "6", "65535"}) {
    CAPTURE(arg);
    CHECK(ParseEpsvArgument(arg) == EpsvArg::kOther);
  }
  for (const char* arg : {" 1", "1 ", "ALLL", "AL", "x", "ALL ", "-1", "65536", "1,2"}) {
    CAPTURE(arg);
    CHECK(ParseEpsvArgument(arg) == EpsvArg::kBad);
  }
}

TEST_CASE("PASV and EPSV reply text") {
  CHECK(FormatPasvReply(Host("127.0.0.1"), 50000) ==
        "Entering Passive Mode (127,0,0,1,195,80).");
  CHECK(FormatPasvReply(Host("10.20.30.40"), 0) == "Entering Passive Mode (10,20,30,40,0,0).");
  CHECK(FormatPasvReply(Host("::ffff:192.168.1.2"), 65535) ==
        "Entering Passive Mode (192,168,1,2,255,255).");
  CHECK(FormatEpsvReply(50000) == "Entering Extended Passive Mode (|||50000|)");
  CHECK(FormatEpsvReply(1) == "Entering Extended Passive Mode (|||1|)");
}

TEST_CASE("An IPv4-mapped address normalises to AF_INET") {
  SockAddr mapped = Host("::ffff:127.0.0.1", 2121);
  CHECK(mapped.family() == AF_INET6);
  CHECK(mapped.IsV4Mapped());
  SockAddr n = mapped.Normalized();
  CHECK(n.family() == AF_INET);
  CHECK_FALSE(n.IsV4Mapped());
  CHECK(n.port() == 2121);
  CHECK(n.raw_len() == sizeof(sockaddr_in));
  CHECK(n.HostString() == "127.0.0.1");
  CHECK(mapped.HostString() == "127.0.0.1");
  std::uint8_t b[4] = {};
  CHECK(mapped.GetV4Bytes(b));
  CHECK(b[0] == 127);
  CHECK(b[3] == 1);

  SockAddr v6 = Host("::1", 21);
  CHECK_FALSE(v6.IsV4Mapped());
  CHECK(v6.Normalized().family() == AF_INET6);
  CHECK_FALSE(v6.GetV4Bytes(b));
  CHECK_FALSE(Host("127.0.0.1").IsV4Mapped());
}

TEST_CASE("SameHost compares normalised hosts and ignores ports") {
  CHECK(Host("127.0.0.1", 1).SameHost(Host("127.0.0.1", 2)));
  CHECK(Host("::ffff:127.0.0.1", 1).SameHost(Host("127.0.0.1", 2)));
  CHECK(Host("127.0.0.1").SameHost(Host("::ffff:127.0.0.1")));
  CHECK(Host("::1").SameHost(Host("0:0::1")));
  CHECK_FALSE(Host("127.0.0.1").SameHost(Host("127.0.0.2")));
  CHECK_FALSE(Host("127.0.0.1").SameHost(Host("::1")));
  CHECK_FALSE(Host("::1").SameHost(Host("::2")));
  CHECK_FALSE(SockAddr().SameHost(SockAddr()));
  CHECK_FALSE(SockAddr().SameHost(Host("::1")));
}

TEST_CASE("HostString is numeric, without brackets or port") {
  CHECK(Host("192.168.0.1", 80).HostString() == "192.168.0.1");
  CHECK(Host("::1", 80).HostString() == "::1");
  CHECK(Host("2001:DB8:0:0::1").HostString() == "2001:db8::1");
  CHECK(SockAddr().HostString().empty());
}

TEST_CASE("FromHostString accepts numeric hosts only") {
  Result<SockAddr> r = SockAddr::FromHostString("10.1.2.3", 21);
  CHECK_OK_OR_RETURN(r);
  CHECK(r->family() == AF_INET);
  CHECK(r->port() == 21);
  r = SockAddr::FromHostString("fe80::1", 22);
  CHECK_OK_OR_RETURN(r);
  CHECK(r->family() == AF_INET6);
  CHECK(r->port() == 22);
  for (std::string_view bad : {std::string_view("localhost"), std::string_view(""),
                               std::string_view("1.2.3"), std::string_view("[::1]"),
                               std::string_view("127.0.0.1:21"), std::string_view(" 127.0.0.1"),
                               std::string_view("127.0.0.1\0x", 11)}) {
    CAPTURE(bad);
    CHECK_FALSE(SockAddr::FromHostString(bad, 21).ok());
  }
}

TEST_CASE("Constructing from a raw sockaddr and changing the port") {
  sockaddr_in sin = {};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(8021);
  sin.sin_addr.s_addr = htonl(0x0a000001);
  SockAddr a(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
  CHECK(a.family() == AF_INET);
  CHECK(a.port() == 8021);
  CHECK(a.HostString() == "10.0.0.1");
  a.set_port(9);
  CHECK(a.port() == 9);

  // Too short, or another family: AF_UNSPEC.
  CHECK(SockAddr(reinterpret_cast<const sockaddr*>(&sin), 4).family() == AF_UNSPEC);
  sockaddr_storage un = {};
  un.ss_family = AF_UNIX;
  CHECK(SockAddr(reinterpret_cast<const sockaddr*>(&un), sizeof(un)).family() == AF_UNSPEC);
  CHECK(SockAddr().family() == AF_UNSPEC);
  CHECK(SockAddr().port() == 0);

  const std::uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  SockAddr b = SockAddr::V6(v6, 443);
  CHECK(b.family() == AF_INET6);
  CHECK(b.raw_len() == sizeof(sockaddr_in6));
  CHECK(b.HostString() == "::1");
  b.set_port(444);
  CHECK(b.port() == 444);
}

TEST_CASE("network lists: addresses and prefixes, both families") {
  Result<std::vector<Network>> r = ParseNetworkList("127.0.0.1, 10.0.0.0/8,2001:db8::/32 ,::1");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->size() == 4);
  CHECK(InNetworks(*r, Host("127.0.0.1")));
  CHECK(InNetworks(*r, Host("::ffff:127.0.0.1")));
  CHECK_FALSE(InNetworks(*r, Host("127.0.0.2")));
  CHECK(InNetworks(*r, Host("10.255.1.2")));
  CHECK_FALSE(InNetworks(*r, Host("11.0.0.1")));
  CHECK(InNetworks(*r, Host("2001:db8:ffff::9")));
  CHECK_FALSE(InNetworks(*r, Host("2001:db9::1")));
  CHECK(InNetworks(*r, Host("::1")));
  Result<std::vector<Network>> odd = ParseNetworkList("192.0.2.128/25,0.0.0.0/0");
  CHECK_OK_OR_RETURN(odd);
  CHECK((*odd)[0].Contains(Host("192.0.2.200")));
  CHECK_FALSE((*odd)[0].Contains(Host("192.0.2.100")));
  CHECK((*odd)[1].Contains(Host("203.0.113.1")));
  CHECK_FALSE((*odd)[1].Contains(Host("::2")));
  for (const char* bad : {"", "127.0.0.1,", "host.example", "10.0.0.0/33", "::/129", "10.0.0.0/",
                          "10.0.0.0/x", "1.2.3.4/8/9"}) {
    INFO(bad);
    CHECK_FALSE(ParseNetworkList(bad).ok());
  }
}

TEST_CASE("pasv_address_map: the first network holding the client gives PASV's address") {
  Result<std::vector<PasvAddressRule>> r =
      ParsePasvAddressMap("10.0.0.0/8=10.0.0.5, 192.168.0.0/16=192.168.1.5 ,10.1.0.0/16=10.1.0.9,"
                          "2001:db8::/32=192.0.2.7,127.0.0.2=127.0.0.22");
  CHECK_OK_OR_RETURN(r);
  CHECK(r->size() == 5);
  auto shown = [&](const char* client) {
    const SockAddr* a = PasvAddressFor(*r, Host(client));
    return a == nullptr ? std::string("none") : a->HostString();
  };
  CHECK(shown("10.200.0.1") == "10.0.0.5");
  CHECK(shown("10.1.2.3") == "10.0.0.5");  // the first match, not the narrowest
  CHECK(shown("::ffff:192.168.7.7") == "192.168.1.5");
  CHECK(shown("2001:db8::1") == "192.0.2.7");  // an IPv6 client (behind a balancer)
  CHECK(shown("127.0.0.2") == "127.0.0.22");
  CHECK(shown("127.0.0.1") == "none");
  CHECK(shown("203.0.113.1") == "none");
  Result<std::vector<PasvAddressRule>> none = ParsePasvAddressMap("");
  CHECK_OK_OR_RETURN(none);
  CHECK(none->empty());
  for (const char* bad : {"10.0.0.0/8", "10.0.0.0/8=", "=10.0.0.5", "10.0.0.0/8=host.example",
                          "10.0.0.0/8=2001:db8::1", "10.0.0.0/33=10.0.0.5",
                          "10.0.0.0/8=10.0.0.5,", "10.0.0.0/8=10.0.0.5=10.0.0.6",
                          "10.0.0.0/8=10.0.0.5/32", "lan=10.0.0.5"}) {
    INFO(bad);
    CHECK_FALSE(ParsePasvAddressMap(bad).ok());
  }
}

}  // namespace
}  // namespace keepftpd
