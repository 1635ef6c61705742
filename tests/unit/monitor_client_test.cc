// Tests for src/jail/monitor_client.cc: each request function sends its documented message, waits
// for its one answer and returns what the answer said; a wrong, malformed or missing answer ends
// the jail. Also the LOG and EVENT records a jail's log sink sends (src/common/log.cc).
#include "monitor_client.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cmdio.h"
#include "ftp_command.h"
#include "ipc.h"
#include "ipc_messages.h"
#include "log.h"
#include "test_support.h"
#include "wire.h"

namespace keepftpd {
namespace {

struct Channel {
  UniqueFd monitor_end;
  UniqueFd jail_end;
  Channel() { CHECK_OR_RETURN(MakeChannel(&monitor_end, &jail_end).ok()); }
};

// A connected stream pair: a data connection, or the control connection.
struct Pair {
  UniqueFd a;
  UniqueFd b;
  Pair() {
    int fds[2];
    CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    a.Reset(fds[0]);
    b.Reset(fds[1]);
  }
};

// A file to pass around: anonymous, so nothing is left on disk.
UniqueFd MakeFile(std::string_view content) {
  UniqueFd fd(memfd_create("monitor_client_test", MFD_CLOEXEC));
  CHECK_OR_RETURN(fd.valid(), fd);
  CHECK(write(fd.get(), content.data(), content.size()) ==
        static_cast<ssize_t>(content.size()));
  return fd;
}

bool SameFile(int a, int b) {
  struct stat sa, sb;
  CHECK_OR_RETURN(fstat(a, &sa) == 0, false);
  CHECK_OR_RETURN(fstat(b, &sb) == 0, false);
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// True when no message is waiting on channel.
bool NothingWaiting(int channel) {
  char byte;
  return recv(channel, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

// The bytes waiting in fd's receive queue, left there.
std::string Unread(int fd) {
  char buf[256];
  ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Plays the monitor in a thread: receives `requests` messages on its end of the channel, then
// sends one answer. (ReceiveMessage's buffer is static, so shared with the jail side of this
// process, but the two never use it at once: the jail side's receive fills it only when this
// answer arrives, after the monitor's last receive has returned.)
class FakeMonitor {
 public:
  FakeMonitor(int channel, MsgType answer, std::string body, int fd = -1, int requests = 1)
      : channel_(channel), answer_(answer), body_(std::move(body)), fd_(fd), wanted_(requests),
        thread_([this] { Run(); }) {}
  ~FakeMonitor() { Join(); }
  FakeMonitor(const FakeMonitor&) = delete;
  FakeMonitor& operator=(const FakeMonitor&) = delete;

  // Waits for the exchange to end; the requests received, in order.
  const std::vector<Message>& requests() {
    Join();
    return requests_;
  }
  // The one request, or an empty LOG if there was none.
  const Message& request() {
    static const Message kNone;
    return requests().empty() ? kNone : requests_.front();
  }

 private:
  void Run() {
    for (int i = 0; i < wanted_; ++i) {
      Message m;
      std::string error;
      if (ReceiveMessage(channel_, &m, &error) != ReceiveOutcome::kMessage) return;
      requests_.push_back(std::move(m));
    }
    SendMessage(channel_, answer_, body_, fd_);
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  int channel_;
  MsgType answer_;
  std::string body_;
  int fd_;
  int wanted_;
  std::vector<Message> requests_;
  std::thread thread_;  // last: starts once every member above is set
};

// Answer bodies, as the monitor encodes them (ipc_messages.h).
std::string LoginResultBody(bool ok, bool close, std::string_view message) {
  WireWriter w;
  w.PutU8(ok);
  w.PutU8(close);
  w.PutString(message);
  return w.data();
}

std::string PasvResult(bool ok, std::uint16_t port, std::string_view message,
                       std::uint8_t resolved, std::string_view address) {
  WireWriter w;
  w.PutU8(ok);
  w.PutU16(port);
  w.PutString(message);
  w.PutU8(resolved);
  w.PutBytes(address);
  return w.data();
}

std::string DataResultBody(bool ok, std::string_view message) {
  WireWriter w;
  w.PutU8(ok);
  w.PutString(message);
  return w.data();
}

std::string Bytes(std::initializer_list<std::uint8_t> bytes) {
  std::string out;
  for (std::uint8_t b : bytes) out += static_cast<char>(b);
  return out;
}

SockAddr Host(std::string_view host, std::uint16_t port) {
  Result<SockAddr> r = SockAddr::FromHostString(host, port);
  CHECK_MESSAGE(r.ok(), host);
  return r.ok() ? r.value() : SockAddr();
}

TEST_CASE("RequestLogin sends user, password and PROT P, and returns the monitor's verdict") {
  Channel c;
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kLoginResult,
                        LoginResultBody(false, true, "Login incorrect."));
    LoginResult a = RequestLogin(c.jail_end.get(), "alice", "s3cret", true);
    CHECK_FALSE(a.ok);
    CHECK(a.close);
    CHECK(a.message == "Login incorrect.");
    const Message& req = monitor.request();
    CHECK(req.type == MsgType::kLogin);
    CHECK_FALSE(req.fd.valid());
    WireReader r(req.body);
    std::string user, password;
    std::uint8_t prot_private = 9;
    CHECK(r.GetString(kMaxUserName, &user));
    CHECK(r.GetString(kMaxPassword, &password));
    CHECK(r.GetU8(&prot_private));
    CHECK(r.Finish());
    CHECK(user == "alice");
    CHECK(password == "s3cret");
    CHECK(prot_private == 1);
  }
  {
    // Over-long names and passwords are cut to the monitor's limits, never sent whole.
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kLoginResult, LoginResultBody(true, false, ""));
    LoginResult a = RequestLogin(c.jail_end.get(), std::string(kMaxUserName + 50, 'u'),
                                 std::string(kMaxPassword + 50, 'p'), false);
    CHECK(a.ok);
    CHECK_FALSE(a.close);
    CHECK(a.message.empty());
    WireReader r(monitor.request().body);
    std::string user, password;
    std::uint8_t prot_private = 9;
    r.GetString(kMaxUserName, &user);
    r.GetString(kMaxPassword, &password);
    r.GetU8(&prot_private);
    CHECK(r.Finish());
    CHECK(user == std::string(kMaxUserName, 'u'));
    CHECK(password == std::string(kMaxPassword, 'p'));
    CHECK(prot_private == 0);
  }
}

TEST_CASE("RequestPasvListen sends an empty PASV_LISTEN and returns port, message and address") {
  Channel c;
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kPasvListenResult,
                        PasvResult(true, 50000, "", 1, Bytes({198, 51, 100, 7})));
    PasvListenResult a = RequestPasvListen(c.jail_end.get());
    CHECK(monitor.request().type == MsgType::kPasvListen);
    CHECK(monitor.request().body.empty());
    CHECK(a.ok);
    CHECK(a.port == 50000);
    CHECK(a.message.empty());
    CHECK(a.resolved);
    CHECK(a.address[0] == 198);
    CHECK(a.address[1] == 51);
    CHECK(a.address[2] == 100);
    CHECK(a.address[3] == 7);
  }
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kPasvListenResult,
                        PasvResult(false, 0, "No free port.", 0, Bytes({0, 0, 0, 0})));
    PasvListenResult a = RequestPasvListen(c.jail_end.get());
    CHECK_FALSE(a.ok);
    CHECK_FALSE(a.resolved);
    CHECK(a.message == "No free port.");
  }
}

TEST_CASE("RequestPortConnect sends family, address, port and PROT P; ok brings the connection") {
  Channel c;
  Pair data;
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kDataResult, DataResultBody(true, ""),
                        data.a.get());
    DataAnswer a = RequestPortConnect(c.jail_end.get(), Host("192.0.2.10", 2021), false);
    const Message& req = monitor.request();
    CHECK(req.type == MsgType::kPortConnect);
    CHECK_FALSE(req.fd.valid());
    CHECK(req.body == Bytes({4, 192, 0, 2, 10, 0xe5, 0x07, 0}));  // port 2021, little-endian
    CHECK(a.ok);
    CHECK(a.message.empty());
    CHECK_OR_RETURN(a.fd.valid());
    CHECK(SameFile(a.fd.get(), data.a.get()));
    CHECK(send(a.fd.get(), "x", 1, MSG_NOSIGNAL) == 1);  // connected to the other end
    char byte = 0;
    CHECK(recv(data.b.get(), &byte, 1, 0) == 1);
    CHECK(byte == 'x');
  }
  {
    // An IPv4-mapped address goes as IPv4.
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kDataResult,
                        DataResultBody(false, "Failed to establish connection."));
    DataAnswer a = RequestPortConnect(c.jail_end.get(), Host("::ffff:192.0.2.10", 80), false);
    CHECK(monitor.request().body == Bytes({4, 192, 0, 2, 10, 80, 0, 0}));
    CHECK_FALSE(a.ok);
    CHECK_FALSE(a.fd.valid());
    CHECK(a.message == "Failed to establish connection.");
  }
  {
    // IPv6, with PROT P: the monitor keeps the connection for TLS_DATA, so none comes back.
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kDataResult, DataResultBody(true, ""));
    DataAnswer a = RequestPortConnect(c.jail_end.get(), Host("2001:db8::5", 65535), true);
    CHECK(monitor.request().body ==
          Bytes({6, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0xff, 0xff, 1}));
    CHECK(a.ok);
    CHECK_FALSE(a.fd.valid());
  }
}

TEST_CASE("RequestTlsData sends an empty TLS_DATA and returns the plaintext end") {
  Channel c;
  Pair plain;
  FakeMonitor monitor(c.monitor_end.get(), MsgType::kDataResult, DataResultBody(true, ""),
                      plain.a.get());
  DataAnswer a = RequestTlsData(c.jail_end.get());
  CHECK(monitor.request().type == MsgType::kTlsData);
  CHECK(monitor.request().body.empty());
  CHECK(a.ok);
  CHECK_OR_RETURN(a.fd.valid());
  CHECK(SameFile(a.fd.get(), plain.a.get()));
}

TEST_CASE("RequestChownUpload passes the upload and returns whether the monitor gave it away") {
  Channel c;
  UniqueFd upload = MakeFile("uploaded");
  for (bool given : {true, false}) {
    CAPTURE(given);
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kChownResult, Bytes({given}));
    CHECK(RequestChownUpload(c.jail_end.get(), upload.get()) == given);
    const Message& req = monitor.request();
    CHECK(req.type == MsgType::kChownUpload);
    CHECK(req.body.empty());
    CHECK_OR_RETURN(req.fd.valid());
    CHECK(SameFile(req.fd.get(), upload.get()));
  }
}

TEST_CASE("RequestTlsDataStatus sends the direction and returns clean and close_notify") {
  Channel c;
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kTlsDataStatusResult, Bytes({1, 1}));
    bool close_notify = false;
    CHECK(RequestTlsDataStatus(c.jail_end.get(), true, &close_notify));
    CHECK(close_notify);
    CHECK(monitor.request().type == MsgType::kTlsDataStatus);
    CHECK(monitor.request().body == Bytes({1}));
  }
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kTlsDataStatusResult, Bytes({0, 1}));
    CHECK_FALSE(RequestTlsDataStatus(c.jail_end.get(), false));  // close_notify not asked for
    CHECK(monitor.request().body == Bytes({0}));
  }
}

TEST_CASE("RequestStartTls returns the plaintext end of the control connection on ok") {
  Channel c;
  Pair plain;
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kStartTlsResult, DataResultBody(true, ""),
                        plain.a.get());
    StartTlsAnswer a = RequestStartTls(c.jail_end.get());
    CHECK(monitor.request().type == MsgType::kStartTls);
    CHECK(monitor.request().body.empty());
    CHECK(a.ok);
    CHECK_OR_RETURN(a.plain_control.valid());
    CHECK(SameFile(a.plain_control.get(), plain.a.get()));
  }
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kStartTlsResult,
                        DataResultBody(false, "TLS is not available."));
    StartTlsAnswer a = RequestStartTls(c.jail_end.get());
    CHECK_FALSE(a.ok);
    CHECK_FALSE(a.plain_control.valid());
    CHECK(a.message == "TLS is not available.");
  }
}

TEST_CASE("RequestProxyInfo sends what the header said and returns go on, or the last reply") {
  Channel c;
  {
    ProxyHeader local;  // LOCAL: no addresses, all zero
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kProxyInfoResult, DataResultBody(true, ""));
    std::string reply = "junk";
    CHECK(RequestProxyInfo(c.jail_end.get(), local, &reply));
    CHECK(reply.empty());
    CHECK(monitor.request().type == MsgType::kProxyInfo);
    CHECK(monitor.request().body == Bytes({0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  }
  {
    ProxyHeader v4;
    v4.kind = ProxyHeader::Kind::kProxy;
    v4.source = Host("192.0.2.1", 50000);
    v4.destination = Host("::ffff:198.51.100.2", 21);  // mapped: sent as IPv4
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kProxyInfoResult,
                        DataResultBody(false, "421 Too many connections."));
    std::string reply;
    CHECK_FALSE(RequestProxyInfo(c.jail_end.get(), v4, &reply));
    CHECK(reply == "421 Too many connections.");
    CHECK(monitor.request().body ==
          Bytes({1, 4, 192, 0, 2, 1, 0x50, 0xc3, 198, 51, 100, 2, 21, 0}));  // 50000 = 0xc350
  }
  {
    ProxyHeader v6;
    v6.kind = ProxyHeader::Kind::kProxy;
    v6.source = Host("2001:db8::1", 1);
    v6.destination = Host("2001:db8::2", 2);
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kProxyInfoResult, DataResultBody(true, ""));
    std::string reply;
    CHECK(RequestProxyInfo(c.jail_end.get(), v6, &reply));
    const std::string a1 = Bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    const std::string a2 = Bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
    CHECK(monitor.request().body == Bytes({1, 6}) + a1 + Bytes({1, 0}) + a2 + Bytes({2, 0}));
  }
}

TEST_CASE("RequestDataAccept returns the accepted connection, or none with PROT P") {
  Channel c;
  Pair control;
  ControlConnection ctrl(control.a.get());
  Pair data;
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kDataResult, DataResultBody(true, ""),
                        data.a.get());
    DataAnswer a = RequestDataAccept(c.jail_end.get(), false, ctrl);
    CHECK(monitor.request().type == MsgType::kDataAccept);
    CHECK(monitor.request().body == Bytes({0}));
    CHECK(a.ok);
    CHECK_OR_RETURN(a.fd.valid());
    CHECK(SameFile(a.fd.get(), data.a.get()));
  }
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kDataResult, DataResultBody(true, ""));
    DataAnswer a = RequestDataAccept(c.jail_end.get(), true, ctrl);
    CHECK(monitor.request().body == Bytes({1}));
    CHECK(a.ok);
    CHECK_FALSE(a.fd.valid());
  }
  CHECK(NothingWaiting(c.monitor_end.get()));
}

TEST_CASE("An ABOR, or the client leaving, while RequestDataAccept waits sends DATA_CANCEL") {
  for (bool client_leaves : {false, true}) {
    CAPTURE(client_leaves);
    Channel c;
    Pair control;
    ControlConnection ctrl(control.a.get());
    if (client_leaves) {
      control.b.Reset();
    } else {
      // As clients send it: telnet IP and Synch, then ABOR.
      CHECK(send(control.b.get(), "\xff\xf4\xff\xf2" "ABOR\r\n", 10, 0) == 10);
    }
    // The monitor answers only once it has the cancel, so the jail must have sent it unasked.
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kDataResult,
                        DataResultBody(false, "Data connection cancelled."), -1, 2);
    DataAnswer a = RequestDataAccept(c.jail_end.get(), false, ctrl);
    const std::vector<Message>& requests = monitor.requests();
    CHECK_OR_RETURN(requests.size() == 2);
    CHECK(requests[0].type == MsgType::kDataAccept);
    CHECK(requests[1].type == MsgType::kDataCancel);
    CHECK(requests[1].body.empty());
    CHECK_FALSE(a.ok);
    CHECK(a.message == "Data connection cancelled.");
    if (!client_leaves) {
      // The ABOR stays for the command loop to answer.
      CHECK(Unread(control.a.get()) == "\xff\xf4\xff\xf2" "ABOR\r\n");
      std::string line;
      CHECK(ctrl.ReadLine(&line, 0) == ControlConnection::ReadOutcome::kLine);
      CHECK(ParseCommandLine(line).verb == "ABOR");
    }
  }
}

TEST_CASE("Another command, half of one or an over-long one does not cancel RequestDataAccept") {
  Channel c;
  Pair control;
  ControlConnection ctrl(control.a.get());
  Pair data;
  CHECK(send(control.b.get(), "STAT\r\nAB", 8, 0) == 8);
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kDataResult, DataResultBody(true, ""),
                        data.a.get());
    DataAnswer a = RequestDataAccept(c.jail_end.get(), false, ctrl);
    CHECK(monitor.requests().size() == 1);
    CHECK(a.ok);
    CHECK(a.fd.valid());
  }
  CHECK(NothingWaiting(c.monitor_end.get()));  // no DATA_CANCEL followed
  std::string line;
  CHECK(ctrl.ReadLine(&line, 0) == ControlConnection::ReadOutcome::kLine);
  CHECK(line == "STAT");

  // Half a line: whether or not the wait took its bytes, the line completes as sent.
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kDataResult, DataResultBody(true, ""),
                        data.a.get());
    DataAnswer a = RequestDataAccept(c.jail_end.get(), false, ctrl);
    CHECK(a.ok);
  }
  CHECK(NothingWaiting(c.monitor_end.get()));
  CHECK(send(control.b.get(), "OR\r\n", 4, 0) == 4);
  CHECK(ctrl.ReadLine(&line, 0) == ControlConnection::ReadOutcome::kLine);
  CHECK(line == "ABOR");

  // A line too long for PeekLine to take: the wait stops watching it, and it stays unread.
  const std::string too_long(kMaxCommandLine + 1, 'x');
  CHECK(send(control.b.get(), too_long.data(), too_long.size(), 0) ==
        static_cast<ssize_t>(too_long.size()));
  {
    FakeMonitor monitor(c.monitor_end.get(), MsgType::kDataResult, DataResultBody(true, ""),
                        data.a.get());
    DataAnswer a = RequestDataAccept(c.jail_end.get(), false, ctrl);
    CHECK(a.ok);
  }
  CHECK(NothingWaiting(c.monitor_end.get()));
  CHECK(ctrl.ReadLine(&line, 0) == ControlConnection::ReadOutcome::kTooLong);
}

TEST_CASE("RequestReinit sends an empty REINIT and waits for no answer") {
  Channel c;
  RequestReinit(c.jail_end.get());
  Message req;
  std::string error;
  CHECK_OR_RETURN(ReceiveMessage(c.monitor_end.get(), &req, &error) == ReceiveOutcome::kMessage);
  CHECK(req.type == MsgType::kReinit);
  CHECK(req.body.empty());
  CHECK_FALSE(req.fd.valid());
}

// ---- Answers that end the jail: each in a forked child, which is the jail. ----

struct LogRecord {
  MsgType type = MsgType::kLog;
  int priority = -1;
  std::string text;
};

struct JailRun {
  int status = -1;  // as waitpid gives it
  std::vector<LogRecord> logs;
};

// Decodes a LOG record's priority and text.
LogRecord DecodeLog(const Message& m) {
  LogRecord record;
  record.type = m.type;
  WireReader r(m.body);
  std::uint8_t priority = 0;
  r.GetU8(&priority);
  r.GetString(kMaxLogText, &record.text);
  CHECK(r.Finish());
  record.priority = priority;
  return record;
}

// What the monitor does with the request: answer it, send a datagram by hand, or close its end.
enum class MonitorDoes { kAnswer, kAnswerRaw, kClose };

struct BadAnswer {
  const char* what;
  void (*call)(int channel);  // runs in the jail: one request function
  MsgType request;            // what it must send
  MonitorDoes monitor;
  MsgType answer;
  std::string body;  // kAnswerRaw: the whole datagram
  bool with_fd;
  const char* fatal;  // what the jail logs before it exits 1; nullptr: nothing
};

void CallLogin(int ch) { RequestLogin(ch, "alice", "pw", false); }
void CallPasv(int ch) { RequestPasvListen(ch); }
void CallPort(int ch) { RequestPortConnect(ch, Host("192.0.2.1", 20), false); }
void CallPortTls(int ch) { RequestPortConnect(ch, Host("192.0.2.1", 20), true); }
void CallStartTls(int ch) { RequestStartTls(ch); }
void CallTlsDataEnd(int ch) { RequestTlsDataStatus(ch, true); }
void CallProxyInfo(int ch) {
  std::string reply;
  RequestProxyInfo(ch, ProxyHeader(), &reply);
}
void CallChown(int ch) {
  UniqueFd f(memfd_create("upload", MFD_CLOEXEC));
  RequestChownUpload(ch, f.get());
}
void CallDataAccept(int ch) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) _exit(98);
  ControlConnection ctrl(fds[0]);  // the client sends nothing, and stays
  RequestDataAccept(ch, false, ctrl);
}

std::vector<BadAnswer> BadAnswers() {
  const std::string pasv_ok = PasvResult(true, 1024, "", 0, Bytes({0, 0, 0, 0}));
  return {
      {"PASV answered with LOGIN_RESULT", CallPasv, MsgType::kPasvListen, MonitorDoes::kAnswer,
       MsgType::kLoginResult, LoginResultBody(true, false, ""), false,
       "monitor answered LOGIN_RESULT to PASV_LISTEN"},
      {"LOGIN answered with CHOWN_RESULT", CallLogin, MsgType::kLogin, MonitorDoes::kAnswer,
       MsgType::kChownResult, Bytes({1}), false, "monitor answered CHOWN_RESULT to LOGIN"},
      {"LOGIN_RESULT without its message", CallLogin, MsgType::kLogin, MonitorDoes::kAnswer,
       MsgType::kLoginResult, Bytes({1, 0}), false, "malformed LOGIN_RESULT"},
      {"PASV_LISTEN_RESULT with a byte too many", CallPasv, MsgType::kPasvListen,
       MonitorDoes::kAnswer, MsgType::kPasvListenResult, pasv_ok + "x", false,
       "malformed PASV_LISTEN_RESULT"},
      {"PASV_LISTEN_RESULT with resolved 2", CallPasv, MsgType::kPasvListen, MonitorDoes::kAnswer,
       MsgType::kPasvListenResult, PasvResult(true, 1024, "", 2, Bytes({1, 2, 3, 4})), false,
       "malformed PASV_LISTEN_RESULT"},
      {"PASV_LISTEN_RESULT with a descriptor", CallPasv, MsgType::kPasvListen, MonitorDoes::kAnswer,
       MsgType::kPasvListenResult, pasv_ok, true, "unexpected descriptor"},
      {"DATA_RESULT ok without the connection", CallPort, MsgType::kPortConnect,
       MonitorDoes::kAnswer, MsgType::kDataResult, DataResultBody(true, ""), false,
       "DATA_RESULT descriptor does not match its status"},
      {"DATA_RESULT refused with a connection", CallPort, MsgType::kPortConnect,
       MonitorDoes::kAnswer, MsgType::kDataResult, DataResultBody(false, "no"), true,
       "DATA_RESULT descriptor does not match its status"},
      {"DATA_RESULT for PROT P with a connection", CallPortTls, MsgType::kPortConnect,
       MonitorDoes::kAnswer, MsgType::kDataResult, DataResultBody(true, ""), true,
       "DATA_RESULT descriptor does not match its status"},
      {"DATA_RESULT with a byte too many", CallPort, MsgType::kPortConnect, MonitorDoes::kAnswer,
       MsgType::kDataResult, DataResultBody(false, "") + "x", false, "malformed DATA_RESULT"},
      {"DATA_ACCEPT answered with PASV_LISTEN_RESULT", CallDataAccept, MsgType::kDataAccept,
       MonitorDoes::kAnswer, MsgType::kPasvListenResult, pasv_ok, false,
       "monitor answered PASV_LISTEN_RESULT to DATA_ACCEPT"},
      {"START_TLS_RESULT ok without the control connection", CallStartTls, MsgType::kStartTls,
       MonitorDoes::kAnswer, MsgType::kStartTlsResult, DataResultBody(true, ""), false,
       "START_TLS_RESULT descriptor does not match its status"},
      {"TLS_DATA_STATUS_RESULT with clean 2", CallTlsDataEnd, MsgType::kTlsDataStatus,
       MonitorDoes::kAnswer, MsgType::kTlsDataStatusResult, Bytes({2, 0}), false,
       "malformed TLS_DATA_STATUS_RESULT"},
      {"PROXY_INFO_RESULT with go_on 2", CallProxyInfo, MsgType::kProxyInfo, MonitorDoes::kAnswer,
       MsgType::kProxyInfoResult, Bytes({2, 0, 0}), false,
       "malformed PROXY_INFO_RESULT"},
      {"CHOWN_RESULT empty", CallChown, MsgType::kChownUpload, MonitorDoes::kAnswer,
       MsgType::kChownResult, "", false, "malformed CHOWN_RESULT"},
      {"CHOWN_RESULT with a descriptor", CallChown, MsgType::kChownUpload, MonitorDoes::kAnswer,
       MsgType::kChownResult, Bytes({1}), true, "unexpected descriptor"},
      {"an answer too short for its type field", CallPasv, MsgType::kPasvListen,
       MonitorDoes::kAnswerRaw, MsgType::kLog, "\x66", false,
       "monitor answer: message of bad size 1"},
      {"an answer over kMaxMessageBody", CallChown, MsgType::kChownUpload, MonitorDoes::kAnswerRaw,
       MsgType::kLog, std::string(2 + kMaxMessageBody + 1, '\x68'), false,
       "monitor answer: message of bad size 4099"},
      {"the monitor gone before it answers", CallPasv, MsgType::kPasvListen, MonitorDoes::kClose,
       MsgType::kLog, "", false, nullptr},
      {"the monitor gone while DATA_ACCEPT waits", CallDataAccept, MsgType::kDataAccept,
       MonitorDoes::kClose, MsgType::kLog, "", false, nullptr},
  };
}

// Runs b.call in a forked child that logs over the channel as a jail does, plays the monitor as
// b says, then collects what the jail logged until it exits, and reaps it.
JailRun RunBadAnswer(const BadAnswer& b) {
  JailRun run;
  Channel c;
  pid_t pid = fork();
  CHECK_OR_RETURN(pid >= 0, run);
  if (pid == 0) {
    c.monitor_end.Reset();
    UseJailLogSink(c.jail_end.get());
    b.call(c.jail_end.get());
    _exit(0);  // the call returned: the test sees exit status 0, not 1
  }
  c.jail_end.Reset();
  Message req;
  std::string error;
  CHECK(ReceiveMessage(c.monitor_end.get(), &req, &error) == ReceiveOutcome::kMessage);
  CHECK(req.type == b.request);
  UniqueFd extra = MakeFile("");
  switch (b.monitor) {
    case MonitorDoes::kAnswer:
      CHECK(SendMessage(c.monitor_end.get(), b.answer, b.body, b.with_fd ? extra.get() : -1)
                .ok());
      break;
    case MonitorDoes::kAnswerRaw:
      CHECK(send(c.monitor_end.get(), b.body.data(), b.body.size(), 0) ==
            static_cast<ssize_t>(b.body.size()));
      break;
    case MonitorDoes::kClose:
      c.monitor_end.Reset();
      break;
  }
  if (c.monitor_end.valid()) {
    Message m;
    while (ReceiveMessage(c.monitor_end.get(), &m, &error) == ReceiveOutcome::kMessage) {
      run.logs.push_back(DecodeLog(m));
    }
  }
  CHECK(waitpid(pid, &run.status, 0) == pid);
  return run;
}

TEST_CASE("A wrong, malformed or missing answer ends the jail with status 1, after a log") {
  for (const BadAnswer& b : BadAnswers()) {
    const std::string what = b.what;
    CAPTURE(what);
    JailRun run = RunBadAnswer(b);
    CHECK(WIFEXITED(run.status));
    CHECK(WEXITSTATUS(run.status) == 1);
    if (b.fatal == nullptr) {
      CHECK(run.logs.empty());
      continue;
    }
    CHECK(run.logs.size() == 1);
    if (run.logs.empty()) continue;
    CHECK(run.logs[0].type == MsgType::kLog);
    CHECK(run.logs[0].priority == kLogErr);
    CHECK(run.logs[0].text == std::string(b.fatal));
  }
}

TEST_CASE("A request the monitor can no longer receive ends the jail with status 1") {
  Channel c;
  pid_t pid = fork();
  CHECK_OR_RETURN(pid >= 0);
  if (pid == 0) {
    c.monitor_end.Reset();
    UseJailLogSink(c.jail_end.get());
    RequestPasvListen(c.jail_end.get());  // the send fails: nobody is there
    _exit(0);
  }
  c.jail_end.Reset();
  c.monitor_end.Reset();
  int status = -1;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
}

// ---- What a jail's log sink sends (log.cc): LOG and EVENT, fields cut to their limits. ----

TEST_CASE("In a jail, Log sends LOG and LogEventRecord sends EVENT, each field within its limit") {
  Channel c;
  pid_t pid = fork();
  CHECK_OR_RETURN(pid >= 0);
  if (pid == 0) {
    c.monitor_end.Reset();
    UseJailLogSink(c.jail_end.get());
    Log(kLogWarning, "disk full");
    Log(kLogInfo, std::string(kMaxLogText + 10, 'L'));
    LogEvent e;
    e.command = "RETR";
    e.path = "/pub/a file";
    e.bytes = 1234;
    e.duration_usec = 5678;
    e.result = "ok";
    e.transfer_type = 'b';
    LogEventRecord(kLogInfo, "download", e);
    LogEvent big;  // bytes and duration unknown (-1)
    big.command = std::string(kMaxEventCommand + 1, 'C');
    big.path = std::string(kMaxEventPath + 1, 'P');
    big.result = std::string(kMaxEventResult + 1, 'R');
    LogEventRecord(kLogNotice, std::string(kMaxEventText + 1, 'T'), big);
    _exit(0);
  }
  c.jail_end.Reset();
  std::vector<Message> sent;
  Message m;
  std::string error;
  while (ReceiveMessage(c.monitor_end.get(), &m, &error) == ReceiveOutcome::kMessage) {
    sent.push_back(std::move(m));
  }
  int status = -1;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_OR_RETURN(sent.size() == 4);

  LogRecord first = DecodeLog(sent[0]);
  CHECK(first.type == MsgType::kLog);
  CHECK(first.priority == kLogWarning);
  CHECK(first.text == "disk full");
  LogRecord second = DecodeLog(sent[1]);
  CHECK(second.text == std::string(kMaxLogText, 'L'));

  struct Event {
    std::uint8_t priority = 0, type = 0;
    std::string text, command, path, result, target;
    std::uint64_t bytes = 0, usec = 0;
  };
  auto decode = [](const Message& msg, Event* e) {
    CHECK(msg.type == MsgType::kEvent);
    WireReader r(msg.body);
    r.GetU8(&e->priority);
    r.GetString(kMaxEventText, &e->text);
    r.GetString(kMaxEventCommand, &e->command);
    r.GetString(kMaxEventPath, &e->path);
    r.GetU64(&e->bytes);
    r.GetU64(&e->usec);
    r.GetString(kMaxEventResult, &e->result);
    r.GetU8(&e->type);
    r.GetString(kMaxEventPath, &e->target);
    return r.Finish();
  };
  Event e;
  CHECK(decode(sent[2], &e));
  CHECK(e.priority == kLogInfo);
  CHECK(e.text == "download");
  CHECK(e.command == "RETR");
  CHECK(e.path == "/pub/a file");
  CHECK(e.bytes == 1234);
  CHECK(e.usec == 5678);
  CHECK(e.result == "ok");
  CHECK(e.type == 'b');
  Event big;
  CHECK(decode(sent[3], &big));
  CHECK(big.text == std::string(kMaxEventText, 'T'));
  CHECK(big.command == std::string(kMaxEventCommand, 'C'));
  CHECK(big.path == std::string(kMaxEventPath, 'P'));
  CHECK(big.result == std::string(kMaxEventResult, 'R'));
  CHECK(big.bytes == UINT64_MAX);  // -1 as a u64
  CHECK(big.usec == UINT64_MAX);
  CHECK(big.type == 0);
}

}  // namespace
}  // namespace keepftpd
