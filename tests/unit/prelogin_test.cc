// Tests for src/jail/prelogin.cc: what an FTP client sees from the pre-login jail (the greeting,
// USER and PASS turned into one LOGIN request, the monitor's verdict, the commands that need a
// login, FEAT, QUIT, over-long lines, a client that leaves) and, with proxy_protocol, the PROXY
// header handed to the monitor before anything is answered. RunPrelogin runs in a forked child
// without chroot or seccomp; the test is both its FTP client and its monitor.
#include "prelogin.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "build_config.h"
#include "config.h"
#include "ipc.h"
#include "ipc_messages.h"
#include "log.h"
#include "session.h"
#include "strutil.h"
#include "test_support.h"
#include "unique_fd.h"
#include "wire.h"

namespace keepftpd {
namespace {

// Every wait is bounded by this, so that a bug fails the test instead of hanging it.
constexpr int kWaitMs = 5000;

bool WaitReadable(int fd) {
  pollfd p = {fd, POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, kWaitMs);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

Config MakeConfig(std::string_view text) {
  std::vector<ConfigError> errors;
  Config config = ParseConfig(text, "test.conf", &errors);
  CHECK(errors.empty());
  return config;
}

bool ExitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

// A LOGIN request's body, decoded as the monitor decodes it.
struct LoginRequest {
  bool well_formed = false;
  std::string user;
  std::string password;
  std::uint8_t prot_private = 9;
};

LoginRequest DecodeLogin(const Message& msg) {
  LoginRequest out;
  CHECK_OR_RETURN(msg.type == MsgType::kLogin, out);
  CHECK_OR_RETURN(!msg.fd.valid(), out);
  WireReader r(msg.body);
  r.GetString(kMaxUserName, &out.user);
  r.GetString(kMaxPassword, &out.password);
  r.GetU8(&out.prot_private);
  out.well_formed = r.Finish();
  return out;
}

// Answer bodies, encoded as the monitor encodes them (AnswerLogin, HandleProxyInfo).
std::string LoginResult(bool ok, bool close, std::string_view message) {
  WireWriter w;
  w.PutU8(ok ? 1 : 0);
  w.PutU8(close ? 1 : 0);
  w.PutString(message);
  return w.data();
}

std::string ProxyInfoResult(bool go_on, std::string_view reply) {
  WireWriter w;
  w.PutU8(go_on ? 1 : 0);
  w.PutString(reply);
  return w.data();
}

// A pre-login jail in a forked child, with the test as its FTP client and its monitor. The child
// is killed and reaped when this goes out of scope, whatever happened.
class Jail {
 public:
  explicit Jail(const Config& config, SessionInfo session = SessionInfo(),
                PreloginGreeting greeting = PreloginGreeting::kBanner, bool tls = false) {
    int fds[2];
    CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    client_.Reset(fds[0]);
    UniqueFd control(fds[1]);
    UniqueFd jail_end;
    CHECK_OR_RETURN(MakeChannel(&monitor_, &jail_end).ok());
    pid_ = fork();
    CHECK_OR_RETURN(pid_ >= 0);
    if (pid_ == 0) {
      client_.Reset();
      monitor_.Reset();
      UseJailLogSink(jail_end.get());
      session.control_fd = control.get();
      RunPrelogin(config, session, jail_end.get(), greeting, tls);
    }
    pidfd_.Reset(static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)));
    CHECK(pidfd_.valid());
  }
  ~Jail() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Jail(const Jail&) = delete;
  Jail& operator=(const Jail&) = delete;

  bool started() const { return pid_ > 0 && pidfd_.valid(); }

  // The FTP client's side.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(client_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      CHECK_OR_RETURN(n > 0, false);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // The next whole reply, through its final "CODE text" line; on a timeout or the end of the
  // connection, whatever came of it.
  std::string Reply() {
    while (true) {
      std::size_t start = 0;
      while (true) {
        std::size_t end = received_.find("\r\n", start);
        if (end == std::string::npos) break;
        if (end - start >= 4 && received_[start + 3] == ' ') {
          std::string reply = received_.substr(0, end + 2);
          received_.erase(0, end + 2);
          return reply;
        }
        start = end + 2;
      }
      if (!Receive()) return std::exchange(received_, std::string());
    }
  }
  // Everything the client still gets; true in *ended when the connection ended (no timeout).
  std::string RestUntilEnd(bool* ended) {
    while (Receive()) {
    }
    *ended = ended_;
    return std::exchange(received_, std::string());
  }
  // True when the jail has sent the client nothing more for now.
  bool NothingForClient() {
    char byte;
    return received_.empty() &&
           recv(client_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
  }
  void CloseClient() { client_.Reset(); }

  // The monitor's side. The next request other than a LOG record (those are skipped).
  bool NextRequest(Message* out) {
    while (true) {
      CHECK_OR_RETURN(WaitReadable(monitor_.get()), false);
      std::string error;
      CHECK_OR_RETURN(ReceiveMessage(monitor_.get(), out, &error) == ReceiveOutcome::kMessage,
                      false);
      if (out->type != MsgType::kLog) return true;
    }
  }
  // The requests other than LOG records waiting on the channel now, taken. Call it after a reply
  // to a later command, so that anything the jail meant to send is already there.
  std::vector<MsgType> WaitingRequests() {
    std::vector<MsgType> out;
    char byte;
    while (recv(monitor_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
      Message msg;
      std::string error;
      if (ReceiveMessage(monitor_.get(), &msg, &error) != ReceiveOutcome::kMessage) break;
      if (msg.type != MsgType::kLog) out.push_back(msg.type);
    }
    return out;
  }
  bool Answer(MsgType type, const std::string& body) {
    return SendMessage(monitor_.get(), type, body).ok();
  }

  // Waits for the jail to end and reaps it: its wait status, or -1 when it is still running.
  int Exit() {
    CHECK_OR_RETURN(started(), -1);
    CHECK_OR_RETURN(WaitReadable(pidfd_.get()), -1);
    int status = -1;
    CHECK_OR_RETURN(waitpid(pid_, &status, 0) == pid_, -1);
    pid_ = -1;
    return status;
  }

 private:
  // Reads what the client has been sent; false at the end of the connection or after kWaitMs.
  bool Receive() {
    if (ended_ || !WaitReadable(client_.get())) return false;
    char buf[4096];
    ssize_t n;
    do {
      n = recv(client_.get(), buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    // ECONNRESET: the jail left with bytes of ours unread (an over-long line).
    if (n <= 0) {
      ended_ = n == 0 || errno == ECONNRESET;
      return false;
    }
    received_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  UniqueFd client_;
  UniqueFd monitor_;
  UniqueFd pidfd_;
  pid_t pid_ = -1;
  std::string received_;
  bool ended_ = false;
};

constexpr std::string_view kLocalUsers = "local_enable=YES\n";

TEST_CASE("the greeting is ftpd_banner, or the server's name and version without one") {
  {
    Jail jail(MakeConfig(""));
    CHECK_OR_RETURN(jail.started());
    CHECK(jail.Reply() == "220 (keepftpd " KEEPFTPD_VERSION ")\r\n");
  }
  Jail jail(MakeConfig("ftpd_banner=Welcome to the archive.\n"));
  CHECK_OR_RETURN(jail.started());
  CHECK(jail.Reply() == "220 Welcome to the archive.\r\n");
}

TEST_CASE("banner_file's text is a multi-line 220 greeting that wins over ftpd_banner") {
  SessionInfo session;
  // CRLF or LF line ends, trailing blank lines dropped, control bytes made harmless.
  session.banner_text = "Private server.\r\nNo \x1b[31mentry\n\n\n";
  Jail jail(MakeConfig("ftpd_banner=Not this one.\n"), session);
  CHECK_OR_RETURN(jail.started());
  CHECK(jail.Reply() == "220-Private server.\r\n220 No ?[31mentry\r\n");
}

TEST_CASE("after REIN the greeting is 220 Ready for new user. instead of the banner") {
  SessionInfo session;
  session.banner_text = "The banner.\n";
  Jail jail(MakeConfig("ftpd_banner=Welcome.\n"), session, PreloginGreeting::kReinit);
  CHECK_OR_RETURN(jail.started());
  CHECK(jail.Reply() == "220 Ready for new user.\r\n");
  CHECK(jail.Send("NOOP\r\n"));
  CHECK(jail.Reply() == "200 NOOP ok.\r\n");
}

TEST_CASE("USER then PASS asks the monitor once to log in, and a login it accepts ends the jail "
          "without a reply") {
  Jail jail(MakeConfig(kLocalUsers));
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("USER alice\r\n"));
  CHECK(jail.Reply() == "331 Please specify the password.\r\n");
  CHECK(jail.Send("PASS open sesame \r\n"));  // spaces are part of a password
  Message request;
  CHECK_OR_RETURN(jail.NextRequest(&request));
  LoginRequest login = DecodeLogin(request);
  CHECK(login.well_formed);
  CHECK(login.user == "alice");
  CHECK(login.password == "open sesame ");
  CHECK(login.prot_private == 0);
  CHECK(jail.NothingForClient());  // the 530 or the session's 230 waits for the verdict
  CHECK(jail.Answer(MsgType::kLoginResult, LoginResult(true, false, "Login successful.")));
  CHECK(ExitedWith(jail.Exit(), 0));
  // The session jail greets the user, not this one.
  bool ended = false;
  CHECK(jail.RestUntilEnd(&ended).empty());
  CHECK(ended);
  CHECK(jail.WaitingRequests().empty());
}

TEST_CASE("PROT P given over TLS before login is sent with the LOGIN request") {
  Jail jail(MakeConfig("local_enable=YES\nssl_enable=YES\n"), SessionInfo(),
            PreloginGreeting::kBanner, /*tls=*/true);
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("PBSZ 0\r\nPROT P\r\nUSER alice\r\nPASS pw\r\n"));
  CHECK(jail.Reply() == "200 PBSZ set to 0.\r\n");
  CHECK(jail.Reply() == "200 PROT now Private.\r\n");
  CHECK(jail.Reply() == "331 Please specify the password.\r\n");
  Message request;
  CHECK_OR_RETURN(jail.NextRequest(&request));
  LoginRequest login = DecodeLogin(request);
  CHECK(login.well_formed);
  CHECK(login.user == "alice");
  CHECK(login.password == "pw");
  CHECK(login.prot_private == 1);
}

TEST_CASE("a refused login gets 530 with the monitor's message, and the client starts again "
          "from USER") {
  Jail jail(MakeConfig(kLocalUsers));
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("USER alice\r\nPASS wrong\r\n"));
  CHECK(jail.Reply() == "331 Please specify the password.\r\n");
  Message request;
  CHECK_OR_RETURN(jail.NextRequest(&request));
  CHECK(DecodeLogin(request).password == "wrong");
  CHECK(jail.Answer(MsgType::kLoginResult, LoginResult(false, false, "Login incorrect.")));
  CHECK(jail.Reply() == "530 Login incorrect.\r\n");

  // The refused user name is not kept: a second PASS alone is out of sequence.
  CHECK(jail.Send("PASS wrong again\r\nNOOP\r\n"));
  CHECK(jail.Reply() == "503 Login with USER first.\r\n");
  CHECK(jail.Reply() == "200 NOOP ok.\r\n");
  CHECK(jail.WaitingRequests().empty());

  CHECK(jail.Send("USER bob\r\nPASS right\r\n"));
  CHECK(jail.Reply() == "331 Please specify the password.\r\n");
  CHECK_OR_RETURN(jail.NextRequest(&request));
  LoginRequest login = DecodeLogin(request);
  CHECK(login.user == "bob");
  CHECK(login.password == "right");
}

TEST_CASE("a refusal that ends the connection gets 530, and the jail exits") {
  Jail jail(MakeConfig(kLocalUsers));
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("USER alice\r\nPASS wrong\r\nNOOP\r\n"));
  CHECK(jail.Reply() == "331 Please specify the password.\r\n");
  Message request;
  CHECK_OR_RETURN(jail.NextRequest(&request));
  CHECK(jail.Answer(MsgType::kLoginResult, LoginResult(false, true, "Too many failed logins.")));
  bool ended = false;
  CHECK(jail.RestUntilEnd(&ended) == "530 Too many failed logins.\r\n");  // no NOOP reply
  CHECK(ended);
  CHECK(ExitedWith(jail.Exit(), 0));
}

TEST_CASE("PASS before USER gets 503 and asks the monitor nothing") {
  Jail jail(MakeConfig(kLocalUsers));
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("PASS secret\r\nNOOP\r\n"));
  CHECK(jail.Reply() == "503 Login with USER first.\r\n");
  CHECK(jail.Reply() == "200 NOOP ok.\r\n");
  CHECK(jail.WaitingRequests().empty());
}

TEST_CASE("commands that need a login get 530, an empty line 500, and none reaches the monitor") {
  Jail jail(MakeConfig(kLocalUsers));
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  for (const char* line : {"LIST", "RETR /etc/shadow", "CWD /", "PWD", "STOR x", "SITE CHMOD 777 x",
                           "OPTS MLST type;", "PASV", "XYZZY"}) {
    CAPTURE(line);
    CHECK(jail.Send(std::string(line) + "\r\n"));
    CHECK(jail.Reply() == "530 Please login with USER and PASS.\r\n");
  }
  CHECK(jail.Send("\r\nOPTS UTF8 ON\r\n"));
  CHECK(jail.Reply() == "500 Unknown command.\r\n");
  CHECK(jail.Reply() == "200 Always in UTF8 mode.\r\n");
  CHECK(jail.WaitingRequests().empty());
}

TEST_CASE("USER of a local account on an anonymous-only server is refused before a password is "
          "asked for") {
  Jail jail(MakeConfig(""));  // anonymous_enable=YES, local_enable=NO: the defaults
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("USER alice\r\nPASS secret\r\nNOOP\r\n"));
  // A failed login all the same: the monitor hears of it (no password: none was asked for),
  // logs and counts it, and its words are the reply.
  Message request;
  CHECK_OR_RETURN(jail.NextRequest(&request));
  LoginRequest login = DecodeLogin(request);
  CHECK(login.well_formed);
  CHECK(login.user == "alice");
  CHECK(login.password.empty());
  CHECK(jail.NothingForClient());
  CHECK(jail.Answer(MsgType::kLoginResult,
                    LoginResult(false, false, "This FTP server is anonymous only.")));
  CHECK(jail.Reply() == "530 This FTP server is anonymous only.\r\n");
  CHECK(jail.Reply() == "503 Login with USER first.\r\n");
  CHECK(jail.Reply() == "200 NOOP ok.\r\n");
  CHECK(jail.WaitingRequests().empty());
}

TEST_CASE("with no_anon_password, USER anonymous logs in at once with an empty password") {
  Jail jail(MakeConfig("no_anon_password=YES\n"));
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("USER anonymous\r\n"));
  Message request;
  CHECK_OR_RETURN(jail.NextRequest(&request));
  LoginRequest login = DecodeLogin(request);
  CHECK(login.well_formed);
  CHECK(login.user == "anonymous");
  CHECK(login.password.empty());
  CHECK(jail.NothingForClient());  // no 331
  CHECK(jail.Answer(MsgType::kLoginResult, LoginResult(true, false, "")));
  CHECK(ExitedWith(jail.Exit(), 0));
}

TEST_CASE("FEAT lists the features, with AUTH, PBSZ and PROT only when TLS is enabled") {
  std::string plain, tls;
  {
    Jail jail(MakeConfig(""));
    CHECK_OR_RETURN(jail.started());
    CHECK(StartsWith(jail.Reply(), "220 "));
    CHECK(jail.Send("FEAT\r\n"));
    plain = jail.Reply();
  }
  {
    Jail jail(MakeConfig("ssl_enable=YES\n"));
    CHECK_OR_RETURN(jail.started());
    CHECK(StartsWith(jail.Reply(), "220 "));
    CHECK(jail.Send("FEAT\r\n"));
    tls = jail.Reply();
  }
  for (const std::string& feat : {plain, tls}) {
    CAPTURE(feat);
    CHECK(StartsWith(feat, "211-Features:\r\n"));
    CHECK(feat.size() >= 9);
    CHECK(feat.substr(feat.size() - 9) == "211 End\r\n");
    for (const char* line : {" EPRT\r\n", " EPSV\r\n", " HOST\r\n", " MDTM\r\n", " PASV\r\n",
                             " REST STREAM\r\n", " SIZE\r\n", " UTF8\r\n", " MLST ", " HASH "}) {
      CHECK_MESSAGE(feat.find(line) != std::string::npos, line);
    }
  }
  for (const char* line : {" AUTH TLS\r\n", " PBSZ\r\n", " PROT\r\n"}) {
    CAPTURE(line);
    CHECK(plain.find(line) == std::string::npos);
    CHECK(tls.find(line) != std::string::npos);
  }
}

TEST_CASE("QUIT gets 221 and the jail exits") {
  Jail jail(MakeConfig(""));
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("QUIT\r\nNOOP\r\n"));
  bool ended = false;
  CHECK(jail.RestUntilEnd(&ended) == "221 Goodbye.\r\n");
  CHECK(ended);
  CHECK(ExitedWith(jail.Exit(), 0));
}

TEST_CASE("a command line longer than 4096 bytes gets 500, and nothing after it is heard") {
  Jail jail(MakeConfig(""));
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("USER " + std::string(5000, 'a') + "\r\nQUIT\r\n"));
  bool ended = false;
  CHECK(jail.RestUntilEnd(&ended) == "500 Command line too long: the limit is 4096 bytes.\r\n");
  CHECK(ended);
  CHECK(ExitedWith(jail.Exit(), 0));
}

TEST_CASE("the jail exits when the client closes the connection") {
  Jail jail(MakeConfig(""));
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("USER anonymous"));  // half a command, then the client is gone
  jail.CloseClient();
  CHECK(ExitedWith(jail.Exit(), 0));
  CHECK(jail.WaitingRequests().empty());
}

TEST_CASE("with proxy_protocol the PROXY header goes to the monitor before anything is answered, "
          "and the commands after it are kept") {
  Jail jail(MakeConfig("proxy_protocol=YES\nproxy_trusted_addresses=127.0.0.1\n"));
  CHECK_OR_RETURN(jail.started());
  CHECK(jail.Send("PROXY TCP4 192.0.2.1 198.51.100.2 40000 21\r\nNOOP\r\n"));
  Message request;
  CHECK_OR_RETURN(jail.NextRequest(&request));
  CHECK(request.type == MsgType::kProxyInfo);
  CHECK_FALSE(request.fd.valid());
  WireReader r(request.body);
  std::uint8_t kind = 9, family = 9;
  std::string_view source, destination;
  std::uint16_t source_port = 0, destination_port = 0;
  r.GetU8(&kind);
  r.GetU8(&family);
  r.GetBytes(4, &source);
  r.GetU16(&source_port);
  r.GetBytes(4, &destination);
  r.GetU16(&destination_port);
  CHECK(r.Finish());
  CHECK(kind == 1);
  CHECK(family == 4);
  CHECK(source == std::string_view("\xc0\x00\x02\x01", 4));
  CHECK(source_port == 40000);
  CHECK(destination == std::string_view("\xc6\x33\x64\x02", 4));
  CHECK(destination_port == 21);

  CHECK(jail.NothingForClient());  // no banner before the monitor has said yes
  CHECK(jail.Answer(MsgType::kProxyInfoResult, ProxyInfoResult(true, "")));
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Reply() == "200 NOOP ok.\r\n");
}

TEST_CASE("with proxy_protocol a client the monitor turns away gets its reply and no banner") {
  Jail jail(MakeConfig("proxy_protocol=YES\nproxy_trusted_addresses=127.0.0.1\n"));
  CHECK_OR_RETURN(jail.started());
  CHECK(jail.Send("PROXY TCP4 192.0.2.1 198.51.100.2 40000 21\r\nUSER anonymous\r\n"));
  Message request;
  CHECK_OR_RETURN(jail.NextRequest(&request));
  CHECK(request.type == MsgType::kProxyInfo);
  const std::string banned = "421 Too many failed logins from your address; try again later.\r\n";
  CHECK(jail.Answer(MsgType::kProxyInfoResult, ProxyInfoResult(false, banned)));
  bool ended = false;
  CHECK(jail.RestUntilEnd(&ended) == banned);
  CHECK(ended);
  CHECK(ExitedWith(jail.Exit(), 0));
}

TEST_CASE("with proxy_protocol a balancer's health check (no client address) gets the banner "
          "only") {
  Jail jail(
      MakeConfig("proxy_protocol=YES\nproxy_trusted_addresses=127.0.0.1\nftpd_banner=Hello.\n"));
  CHECK_OR_RETURN(jail.started());
  CHECK(jail.Send("PROXY UNKNOWN\r\nNOOP\r\n"));
  Message request;
  CHECK_OR_RETURN(jail.NextRequest(&request));
  CHECK(request.type == MsgType::kProxyInfo);
  std::uint8_t kind = 9;
  CHECK(WireReader(request.body).GetU8(&kind));
  CHECK(kind == 0);
  CHECK(jail.Answer(MsgType::kProxyInfoResult, ProxyInfoResult(true, "")));
  bool ended = false;
  CHECK(jail.RestUntilEnd(&ended) == "220 Hello.\r\n");
  CHECK(ended);
  CHECK(ExitedWith(jail.Exit(), 0));
}

#if KEEPFTPD_TEST_HOOKS
TEST_CASE("in a test build, a forbidden system call made without a seccomp filter is answered 200 "
          "and the dialogue goes on") {
  Jail jail(MakeConfig(""));
  CHECK_OR_RETURN(jail.started());
  CHECK(StartsWith(jail.Reply(), "220 "));
  CHECK(jail.Send("XKFTPDFORBIDDEN\r\nNOOP\r\n"));
  CHECK(jail.Reply() == "200 Test hook ran: the jail has no seccomp filter.\r\n");
  CHECK(jail.Reply() == "200 NOOP ok.\r\n");
}
#endif

}  // namespace
}  // namespace keepftpd
