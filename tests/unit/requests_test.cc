// Tests for src/common/requests.cc: every request a jail sends the monitor decodes to what its
// encoder was given; the decoders refuse short bodies, trailing bytes, over-long strings and
// out-of-range fields; the encoders cut strings to the limits the decoders hold them to.
#include "requests.h"

#include <doctest/doctest.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "test_support.h"
#include "wire.h"

namespace keepftpd {
namespace {

SockAddr Host(const char* host, std::uint16_t port) {
  Result<SockAddr> a = SockAddr::FromHostString(host, port);
  CHECK_OR_RETURN(a.ok(), SockAddr());
  return *a;
}

// Every shorter prefix of a well-formed body, and the body with a byte after it, is refused.
template <typename R>
void RefusesEveryPrefixAndTrailingBytes(const std::string& body) {
  R out;
  for (std::size_t n = 0; n < body.size(); ++n) {
    CHECK_MESSAGE(!Decode(body.substr(0, n), &out).ok(), "prefix of " << n << " bytes");
  }
  CHECK(!Decode(body + '\0', &out).ok());
}

TEST_CASE("LOGIN: user, password and the PROT P flag arrive as sent") {
  const std::string body = Encode(LoginRequest{"alice", "s3cret", true});
  LoginRequest out;
  CHECK(Decode(body, &out).ok());
  CHECK(out.user == "alice");
  CHECK(out.password == "s3cret");
  CHECK(out.prot_private);
  RefusesEveryPrefixAndTrailingBytes<LoginRequest>(body);
}

TEST_CASE("LOGIN: names and passwords over their limits are cut by the jail, refused by the monitor") {
  const std::string body =
      Encode(LoginRequest{std::string(500, 'u'), std::string(500, 'p'), false});
  LoginRequest out;
  CHECK(Decode(body, &out).ok());
  CHECK(out.user.size() == kMaxUserName);
  CHECK(out.password.size() == kMaxPassword);
  WireWriter w;  // what a compromised jail could send instead
  w.PutString(std::string(kMaxUserName + 1, 'u'));
  w.PutString("p");
  w.PutU8(0);
  Status s = Decode(w.data(), &out);
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("malformed LOGIN request") != std::string::npos);
}

TEST_CASE("LOGIN: a PROT P flag other than 0 or 1 is refused") {
  std::string body = Encode(LoginRequest{"a", "b", false});
  body.back() = 2;
  LoginRequest out;
  CHECK_FALSE(Decode(body, &out).ok());
}

TEST_CASE("LOG: the priority and the text arrive as sent; a priority above 7 is refused") {
  LogRequest out;
  const std::string body = Encode(LogRequest{3, "a\r\nb"});
  CHECK(Decode(body, &out).ok());
  CHECK(out.priority == 3);
  CHECK(out.text == "a\r\nb");  // sanitising is the log writer's job
  RefusesEveryPrefixAndTrailingBytes<LogRequest>(body);
  CHECK(Decode(Encode(LogRequest{7, ""}), &out).ok());
  CHECK_FALSE(Decode(Encode(LogRequest{8, ""}), &out).ok());
  CHECK(Encode(LogRequest{6, std::string(kMaxLogText + 10, 'x')}).size() == 1 + 2 + kMaxLogText);
}

TEST_CASE("EVENT: every field arrives as sent; a transfer type other than 0, a, b is refused") {
  EventRequest e;
  e.priority = 6;
  e.text = "RETR /f";
  e.command = "RETR";
  e.path = "/f";
  e.bytes = (std::uint64_t{1} << 63) + 5;  // a u64 as sent: the monitor decides what to believe
  e.duration_usec = 42;
  e.result = "ok";
  e.transfer_type = 'a';
  e.target = "/g";
  const std::string body = Encode(e);
  EventRequest out;
  CHECK(Decode(body, &out).ok());
  CHECK(out.priority == 6);
  CHECK(out.text == "RETR /f");
  CHECK(out.command == "RETR");
  CHECK(out.path == "/f");
  CHECK(out.bytes == e.bytes);
  CHECK(out.duration_usec == 42);
  CHECK(out.result == "ok");
  CHECK(out.transfer_type == 'a');
  CHECK(out.target == "/g");
  RefusesEveryPrefixAndTrailingBytes<EventRequest>(body);
  e.transfer_type = 'x';
  CHECK_FALSE(Decode(Encode(e), &out).ok());
  e.transfer_type = 0;
  e.priority = 8;
  CHECK_FALSE(Decode(Encode(e), &out).ok());
}

TEST_CASE("PORT_CONNECT: IPv4 and IPv6 targets arrive with their port and TLS flag") {
  PortConnectRequest out;
  const std::string v4 = Encode(PortConnectRequest{Host("192.0.2.7", 2021), true});
  CHECK(v4.size() == 1 + 4 + 2 + 1);
  CHECK(Decode(v4, &out).ok());
  CHECK(out.target.HostString() == "192.0.2.7");
  CHECK(out.target.port() == 2021);
  CHECK(out.tls);
  RefusesEveryPrefixAndTrailingBytes<PortConnectRequest>(v4);
  const std::string v6 = Encode(PortConnectRequest{Host("2001:db8::7", 40000), false});
  CHECK(v6.size() == 1 + 16 + 2 + 1);
  CHECK(Decode(v6, &out).ok());
  CHECK(out.target.family() == AF_INET6);
  CHECK(out.target.HostString() == "2001:db8::7");
  CHECK(out.target.port() == 40000);
  CHECK_FALSE(out.tls);
}

TEST_CASE("PORT_CONNECT: a family other than 4 or 6, or a TLS flag above 1, is refused") {
  PortConnectRequest out;
  std::string body = Encode(PortConnectRequest{Host("192.0.2.7", 2021), false});
  body[0] = 5;
  CHECK_FALSE(Decode(body, &out).ok());
  body[0] = 4;
  body.back() = 2;
  CHECK_FALSE(Decode(body, &out).ok());
}

TEST_CASE("PROXY_INFO: a PROXY header's addresses arrive; LOCAL carries none") {
  ProxyInfoRequest in;
  in.proxied = true;
  in.source = Host("198.51.100.4", 50000);
  in.destination = Host("192.0.2.1", 21);
  ProxyInfoRequest out;
  const std::string body = Encode(in);
  CHECK(Decode(body, &out).ok());
  CHECK(out.proxied);
  CHECK(out.source.HostString() == "198.51.100.4");
  CHECK(out.source.port() == 50000);
  CHECK(out.destination.HostString() == "192.0.2.1");
  CHECK(out.destination.port() == 21);
  RefusesEveryPrefixAndTrailingBytes<ProxyInfoRequest>(body);

  CHECK(Decode(Encode(ProxyInfoRequest{}), &out).ok());
  CHECK_FALSE(out.proxied);
  // LOCAL with an address, or a kind that is neither, is not something a jail sends.
  std::string local_with_address = body;
  local_with_address[0] = 0;
  CHECK_FALSE(Decode(local_with_address, &out).ok());
  std::string kind2 = body;
  kind2[0] = 2;
  CHECK_FALSE(Decode(kind2, &out).ok());
}

TEST_CASE("PROXY_INFO: IPv6 addresses travel whole") {
  ProxyInfoRequest in;
  in.proxied = true;
  in.source = Host("2001:db8::1", 1);
  in.destination = Host("2001:db8::2", 21);
  ProxyInfoRequest out;
  CHECK(Decode(Encode(in), &out).ok());
  CHECK(out.source.HostString() == "2001:db8::1");
  CHECK(out.destination.HostString() == "2001:db8::2");
}

TEST_CASE("One-byte requests take 0 or 1, nothing else") {
  DataAcceptRequest accept;
  CHECK(Decode(Encode(DataAcceptRequest{true}), &accept).ok());
  CHECK(accept.tls);
  CHECK_FALSE(Decode(std::string(1, '\2'), &accept).ok());
  CHECK_FALSE(Decode("", &accept).ok());
  TlsDataStatusRequest end;
  CHECK(Decode(Encode(TlsDataStatusRequest{true}), &end).ok());
  CHECK(end.upload);
  CHECK_FALSE(Decode(std::string("\1\1"), &end).ok());
  SeccompReport report;
  CHECK(Decode(Encode(SeccompReport{101}), &report).ok());
  CHECK(report.syscall == 101);
  RefusesEveryPrefixAndTrailingBytes<SeccompReport>(Encode(SeccompReport{101}));
}

TEST_CASE("The TLS jail's reports: TLS_READY, TLS_DATA_END and TLS_WRAP_RESULT") {
  TlsReadyReport ready;
  CHECK(Decode(Encode(TlsReadyReport{false, "rsa_cert_file: no such file"}), &ready).ok());
  CHECK_FALSE(ready.ok);
  CHECK(ready.error == "rsa_cert_file: no such file");
  TlsDataEndReport end;
  CHECK(Decode(Encode(TlsDataEndReport{3}), &end).ok());
  CHECK(end.flags == (TlsDataEndReport::kUnbroken | TlsDataEndReport::kCloseNotify));
  CHECK_FALSE(Decode(Encode(TlsDataEndReport{4}), &end).ok());
  TlsWrapAnswer wrap;
  CHECK(Decode(Encode(TlsWrapAnswer{true, ""}), &wrap).ok());
  CHECK(wrap.ok);
  RefusesEveryPrefixAndTrailingBytes<TlsWrapAnswer>(Encode(TlsWrapAnswer{false, "handshake"}));
}

TEST_CASE("The monitor's answers decode to what was encoded, and refuse anything else") {
  LoginResult login;
  CHECK(Decode(Encode(LoginResult{false, true, "Login incorrect."}), &login).ok());
  CHECK((!login.ok && login.close && login.message == "Login incorrect."));
  RefusesEveryPrefixAndTrailingBytes<LoginResult>(Encode(LoginResult{true, false, "ok"}));
  CHECK_FALSE(Decode(std::string("\2\0\0\0", 4), &login).ok());  // ok is 0 or 1
  CHECK(Encode(LoginResult{true, false, std::string(kMaxAnswerText + 9, 'x')}).size() ==
        2 + 2 + kMaxAnswerText);

  PasvListenResult pasv;
  PasvListenResult sent{true, 50000, "", true, {192, 0, 2, 7}};
  CHECK(Decode(Encode(sent), &pasv).ok());
  CHECK((pasv.ok && pasv.port == 50000 && pasv.resolved && pasv.address[0] == 192 &&
         pasv.address[3] == 7));
  RefusesEveryPrefixAndTrailingBytes<PasvListenResult>(Encode(sent));

  DataResult data;
  CHECK(Decode(Encode(DataResult{false, "Illegal PORT command."}), &data).ok());
  CHECK(data.message == "Illegal PORT command.");
  RefusesEveryPrefixAndTrailingBytes<DataResult>(Encode(DataResult{true, ""}));
  StartTlsResult tls;
  CHECK(Decode(Encode(StartTlsResult{true, ""}), &tls).ok());
  CHECK(tls.ok);
  Status s = Decode(Encode(StartTlsResult{true, ""}) + "x", &tls);
  CHECK(s.message().find("START_TLS_RESULT") != std::string::npos);

  ChownResult chown;
  CHECK(Decode(Encode(ChownResult{true}), &chown).ok());
  CHECK(chown.ok);
  CHECK_FALSE(Decode("", &chown).ok());
  TlsDataStatusResult status;
  CHECK(Decode(Encode(TlsDataStatusResult{false, true}), &status).ok());
  CHECK((!status.clean && status.close_notify));
  RefusesEveryPrefixAndTrailingBytes<TlsDataStatusResult>(Encode(TlsDataStatusResult{}));
  ProxyInfoResult proxy;
  CHECK(Decode(Encode(ProxyInfoResult{false, "421 banned"}), &proxy).ok());
  CHECK((!proxy.go_on && proxy.reply == "421 banned"));
  RefusesEveryPrefixAndTrailingBytes<ProxyInfoResult>(Encode(ProxyInfoResult{true, ""}));
}

TEST_CASE("Requests without a body refuse any byte, and say which request it was") {
  CHECK(DecodeEmpty(MsgType::kPasvListen, "").ok());
  Status s = DecodeEmpty(MsgType::kReinit, "x");
  CHECK_FALSE(s.ok());
  CHECK(s.message().find(MsgTypeName(MsgType::kReinit)) != std::string::npos);
}

}  // namespace
}  // namespace keepftpd
