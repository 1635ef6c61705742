// Tests for src/jail/proxy_protocol.cc: PROXY protocol v1 and v2 headers, whole, cut short and
// malformed.
#include "proxy_protocol.h"

#include <doctest/doctest.h>

#include <string>

namespace keepftpd {
namespace {

ProxyParse Parse(std::string_view data, ProxyHeader* h = nullptr) {
  ProxyHeader local;
  std::string error;
  ProxyParse r = ParseProxyHeader(data, h != nullptr ? h : &local, &error);
  if (r == ProxyParse::kBad) CHECK_FALSE(error.empty());
  return r;
}

std::string V2(unsigned char ver_cmd, unsigned char fam, std::string body) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += static_cast<char>(ver_cmd);
  h += static_cast<char>(fam);
  h += static_cast<char>(body.size() >> 8);
  h += static_cast<char>(body.size() & 0xff);
  return h + body;
}

TEST_CASE("v1 TCP4 and TCP6 give the client's address and port") {
  ProxyHeader h;
  std::string line = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 21\r\n";
  CHECK(Parse(line + "USER x\r\n", &h) == ProxyParse::kOk);
  CHECK(h.kind == ProxyHeader::Kind::kProxy);
  CHECK(h.version == 1);
  CHECK(h.length == line.size());
  CHECK(h.source.HostString() == "192.0.2.10");
  CHECK(h.source.port() == 56324);
  CHECK(h.destination.HostString() == "198.51.100.1");
  CHECK(h.destination.port() == 21);
  CHECK(Parse("PROXY TCP6 2001:db8::1 2001:db8::2 1024 21\r\n", &h) == ProxyParse::kOk);
  CHECK(h.source.HostString() == "2001:db8::1");
  CHECK(Parse("PROXY UNKNOWN\r\n", &h) == ProxyParse::kOk);
  CHECK(h.kind == ProxyHeader::Kind::kLocal);
  CHECK(Parse("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", &h) == ProxyParse::kOk);
}

TEST_CASE("v1 cut short needs more; malformed is refused at once") {
  CHECK(Parse("") == ProxyParse::kNeedMore);
  CHECK(Parse("PRO") == ProxyParse::kNeedMore);
  CHECK(Parse("PROXY TCP4 192.0.2.10") == ProxyParse::kNeedMore);
  CHECK(Parse("PROXY TCP4 192.0.2.10 198.51.100.1 56324 21\r") == ProxyParse::kNeedMore);
  CHECK(Parse("USER anonymous\r\n") == ProxyParse::kBad);
  CHECK(Parse("PROXY TCP4 192.0.2.10 198.51.100.1 56324\r\n") == ProxyParse::kBad);
  CHECK(Parse("PROXY TCP4 ::1 ::1 1 2\r\n") == ProxyParse::kBad);
  CHECK(Parse("PROXY TCP6 192.0.2.1 192.0.2.2 1 2\r\n") == ProxyParse::kBad);
  CHECK(Parse("PROXY TCP4 192.0.2.10 198.51.100.1 65536 21\r\n") == ProxyParse::kBad);
  CHECK(Parse("PROXY TCP4 192.0.2.10 198.51.100.1 021 21\r\n") == ProxyParse::kBad);
  CHECK(Parse("PROXY TCP4 192.0.2.10  198.51.100.1 1 21\r\n") == ProxyParse::kBad);
  CHECK(Parse("PROXY TCP4 192.0.2.10 198.51.100.1 1 21\n") == ProxyParse::kBad);
  CHECK(Parse("PROXY TCP4 192.0.2.10 198.51.100.1 1 21\r\r") == ProxyParse::kBad);
  CHECK(Parse("PROXY TCP4 192.0.2.1\x01") == ProxyParse::kBad);
  CHECK(Parse("PROXY UNKNOWN " + std::string(200, 'x')) == ProxyParse::kBad);  // no CRLF
}

TEST_CASE("v2 PROXY over IPv4 and IPv6, LOCAL, and TLVs skipped") {
  ProxyHeader h;
  std::string v4 = V2(0x21, 0x11, std::string("\xc0\x00\x02\x0a\xc6\x33\x64\x01\xdc\x04\x00\x15", 12));
  CHECK(Parse(v4 + "x", &h) == ProxyParse::kOk);
  CHECK(h.version == 2);
  CHECK(h.length == v4.size());
  CHECK(h.source.HostString() == "192.0.2.10");
  CHECK(h.source.port() == 0xdc04);
  CHECK(h.destination.port() == 21);
  std::string addr6(36, '\0');
  addr6[0] = 0x20; addr6[1] = 0x01; addr6[2] = 0x0d; addr6[3] = static_cast<char>(0xb8);
  addr6[15] = 1;
  addr6[33] = 99;
  std::string tlv("\x04\x00\x02xy", 5);  // a NOOP TLV
  CHECK(Parse(V2(0x21, 0x21, addr6 + tlv), &h) == ProxyParse::kOk);
  CHECK(h.source.HostString() == "2001:db8::1");
  CHECK(h.source.port() == 99);
  CHECK(Parse(V2(0x20, 0x00, ""), &h) == ProxyParse::kOk);  // LOCAL: a health check
  CHECK(h.kind == ProxyHeader::Kind::kLocal);
  CHECK(Parse(V2(0x21, 0x00, ""), &h) == ProxyParse::kOk);  // PROXY UNSPEC
  CHECK(h.kind == ProxyHeader::Kind::kLocal);
}

TEST_CASE("v2 cut short needs more; malformed is refused") {
  std::string v4 = V2(0x21, 0x11, std::string(12, '\1'));
  for (std::size_t n = 0; n < v4.size(); ++n) {
    INFO(n);
    CHECK(Parse(v4.substr(0, n)) == ProxyParse::kNeedMore);
  }
  CHECK(Parse(V2(0x11, 0x11, std::string(12, '\1'))) == ProxyParse::kBad);  // version 1 byte
  CHECK(Parse(V2(0x22, 0x11, std::string(12, '\1'))) == ProxyParse::kBad);  // command 2
  CHECK(Parse(V2(0x21, 0x11, std::string(11, '\1'))) == ProxyParse::kBad);  // short IPv4
  CHECK(Parse(V2(0x21, 0x21, std::string(35, '\1'))) == ProxyParse::kBad);  // short IPv6
  CHECK(Parse(V2(0x21, 0x12, std::string(12, '\1'))) == ProxyParse::kBad);  // UDP
  CHECK(Parse(V2(0x21, 0x31, std::string(216, '\1'))) == ProxyParse::kBad);  // UNIX
  CHECK(Parse(V2(0x21, 0x11, std::string(3000, '\1'))) == ProxyParse::kBad);  // too long
  CHECK(Parse(std::string("\r\n\r\n\0\r\nQUIX\n", 12)) == ProxyParse::kBad);
}

}  // namespace
}  // namespace keepftpd
