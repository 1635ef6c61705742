// Tests for src/jail/dataio.cc: SendFile, SendBuffer and ReceiveFile over socketpairs (a
// non-blocking data connection as the session jail has, and a control connection watched for
// ABOR) move the bytes unchanged in binary mode and converted in ASCII mode, and end with the
// result each way a transfer can end says.
#include "dataio.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "cmdio.h"
#include "test_support.h"
#include "unique_fd.h"

namespace doctest {
template <>
struct StringMaker<keepftpd::TransferResult> {
  static String convert(keepftpd::TransferResult r) {
    switch (r) {
      case keepftpd::TransferResult::kOk: return "kOk";
      case keepftpd::TransferResult::kAborted: return "kAborted";
      case keepftpd::TransferResult::kTimeout: return "kTimeout";
      case keepftpd::TransferResult::kDataError: return "kDataError";
      case keepftpd::TransferResult::kControlClosed: return "kControlClosed";
      case keepftpd::TransferResult::kFileError: return "kFileError";
    }
    return "?";
  }
};
}  // namespace doctest

namespace keepftpd {
namespace {

using test::ReadAll;
using test::TempFile;

// A transfer that should end on its own never waits this long; a broken one fails with
// kTimeout instead of hanging the test.
constexpr unsigned kSafetyTimeout = 60;
// Larger than anything the kernel buffers on a socketpair: a peer that stops reading stalls a
// download of this size.
constexpr std::size_t kStallSize = 8 << 20;

// The data connection (the server's end non-blocking, as the session jail makes it) and the
// control connection (the server's end wrapped in a ControlConnection by the tests).
struct Connections {
  UniqueFd data_server;
  UniqueFd data_client;
  UniqueFd ctrl_server;
  UniqueFd ctrl_client;
};

Connections Connect() {
  Connections c;
  int data[2] = {-1, -1};
  int ctrl[2] = {-1, -1};
  CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, data) == 0, c);
  c.data_server.Reset(data[0]);
  c.data_client.Reset(data[1]);
  CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctrl) == 0, c);
  c.ctrl_server.Reset(ctrl[0]);
  c.ctrl_client.Reset(ctrl[1]);
  const int flags = fcntl(c.data_server.get(), F_GETFL);
  CHECK(fcntl(c.data_server.get(), F_SETFL, flags | O_NONBLOCK) == 0);
  return c;
}

// All of data on a blocking descriptor; false if the peer went away.
bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Up to and including the next LF, read a byte at a time (the control connection's replies).
std::string ReadLineFrom(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1) {
    line += c;
    if (c == '\n') break;
  }
  return line;
}

// True when fd has no byte waiting to be read (what ABOR left behind on the control connection).
bool NothingWaiting(int fd) {
  char c;
  return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

// Waits until the peer of the socket fd has read every byte fd sent (SIOCOUTQ counts those not
// yet read). No blocking call waits for that, so this one polls, yielding the CPU: it is how a
// test puts a boundary between two of the server's reads where it wants one.
void WaitUntilPeerRead(int fd) {
  int queued = 0;
  while (ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0) sched_yield();
}

// The other end of a data connection, run by a thread so that the server's side can block.
class Peer {
 public:
  template <typename F>
  explicit Peer(F body) : thread_(std::move(body)) {}
  ~Peer() { Join(); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

// Every byte value, in an order that is not a pattern a chunk size could line up with.
std::string Bytes(std::size_t size) {
  std::string out(size, '\0');
  std::uint32_t x = 12345;
  for (char& c : out) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return out;
}

// "" when a and b are equal; otherwise where they first differ (without printing megabytes).
std::string Mismatch(const std::string& a, const std::string& b) {
  if (a == b) return "";
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
         ", first difference at byte " + std::to_string(i);
}

TransferOptions Options(bool use_sendfile = true, bool ascii = false) {
  TransferOptions o;
  o.timeout_seconds = kSafetyTimeout;
  o.use_sendfile = use_sendfile;
  o.ascii = ascii;
  return o;
}

struct Download {
  TransferResult result = TransferResult::kDataError;
  std::uint64_t sent = 0;
  std::string received;  // what the client read
};

// SendFile of content from offset to a client that reads everything.
Download RunSendFile(const std::string& content, std::uint64_t offset,
                     const TransferOptions& options) {
  TempFile file(content);
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  Download d;
  Peer client([&] { d.received = test::ReadAll(c.data_client.get()); });
  d.result = SendFile(c.data_server.get(), ctrl, file.fd(), offset, options, &d.sent);
  c.data_server.Reset();  // the end of the data for the client
  client.Join();
  return d;
}

struct Upload {
  TransferResult result = TransferResult::kDataError;
  std::uint64_t received = 0;
  int file_errno = -1;
  std::string stored;  // what the file holds afterwards
};

// ReceiveFile into an empty file from a client that sends wire and ends the data.
Upload RunReceiveFile(const std::string& wire, const TransferOptions& options) {
  TempFile file;
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  Peer client([&] {
    SendAll(c.data_client.get(), wire);
    shutdown(c.data_client.get(), SHUT_WR);
  });
  Upload u;
  u.result = ReceiveFile(c.data_server.get(), ctrl, file.fd(), options, &u.received,
                         &u.file_errno);
  c.data_server.Reset();  // a client still sending sees the connection end
  client.Join();
  u.stored = file.Contents();
  return u;
}

// SIGPIPE ignored while it lives, as the server's processes have it (monitor.cc): sendfile(2)
// has no MSG_NOSIGNAL.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &old_);
  }
  ~IgnoreSigpipe() { sigaction(SIGPIPE, &old_, nullptr); }
  IgnoreSigpipe(const IgnoreSigpipe&) = delete;
  IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

 private:
  struct sigaction old_ = {};
};

const std::size_t kSizes[] = {0, 1, (64 << 10) - 1, 64 << 10, (64 << 10) + 1, (3 << 20) + 17};

// ---- downloads ----

TEST_CASE("SendFile sends every byte of files of every size, with sendfile and without") {
  for (bool use_sendfile : {true, false}) {
    for (std::size_t size : kSizes) {
      CAPTURE(use_sendfile);
      CAPTURE(size);
      const std::string content = Bytes(size);
      Download d = RunSendFile(content, 0, Options(use_sendfile));
      CHECK(d.result == TransferResult::kOk);
      CHECK(d.sent == size);
      CHECK(Mismatch(d.received, content) == "");
    }
  }
}

TEST_CASE("SendFile starts at the REST offset") {
  const std::string content = Bytes(100000);
  for (bool use_sendfile : {true, false}) {
    CAPTURE(use_sendfile);
    for (std::uint64_t offset : {std::uint64_t{1}, std::uint64_t{65536}, std::uint64_t{99999}}) {
      CAPTURE(offset);
      Download d = RunSendFile(content, offset, Options(use_sendfile));
      CHECK(d.result == TransferResult::kOk);
      CHECK(d.sent == content.size() - offset);
      CHECK(Mismatch(d.received, content.substr(offset)) == "");
    }
    // At or past the end: nothing to send, and that is a success.
    for (std::uint64_t offset : {std::uint64_t{100000}, std::uint64_t{200000}}) {
      CAPTURE(offset);
      Download d = RunSendFile(content, offset, Options(use_sendfile));
      CHECK(d.result == TransferResult::kOk);
      CHECK(d.sent == 0);
      CHECK(d.received.empty());
    }
  }
}

TEST_CASE("ASCII downloads turn LF into CRLF and leave CRLF and a lone CR alone") {
  Download d = RunSendFile("one\ntwo\r\nthree\rfour\n\n", 0, Options(true, true));
  CHECK(d.result == TransferResult::kOk);
  CHECK(d.received == "one\r\ntwo\r\nthree\rfour\r\n\r\n");
  // With a REST offset, the conversion starts there.
  d = RunSendFile("ab\ncd\n", 3, Options(true, true));
  CHECK(d.result == TransferResult::kOk);
  CHECK(d.received == "cd\r\n");
  // ASCII mode reads the file whatever use_sendfile says.
  d = RunSendFile("x\ny", 0, Options(false, true));
  CHECK(d.result == TransferResult::kOk);
  CHECK(d.received == "x\r\ny");
}

TEST_CASE("ASCII downloads are not doubled where a CRLF is split between two reads") {
  // A CR at every odd offset and an LF at every even one: whatever the (even) read size, a read
  // ends between a CR and its LF, which must not get a second CR.
  std::string crlf = "x";
  for (int i = 0; i < (1 << 20); ++i) crlf += "\r\n";
  Download d = RunSendFile(crlf, 0, Options(true, true));
  CHECK(d.result == TransferResult::kOk);
  CHECK(Mismatch(d.received, crlf) == "");
  // Bare LFs at every offset: a read that starts with one still adds its CR.
  const std::string lf(1 << 20, '\n');
  d = RunSendFile(lf, 0, Options(true, true));
  CHECK(d.result == TransferResult::kOk);
  std::string expected;
  for (std::size_t i = 0; i < lf.size(); ++i) expected += "\r\n";
  CHECK(Mismatch(d.received, expected) == "");
}

TEST_CASE("SendFile ends with kDataError when the client closed the data connection") {
  IgnoreSigpipe ignore;
  for (bool use_sendfile : {true, false}) {
    CAPTURE(use_sendfile);
    TempFile file(Bytes(1000));
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    c.data_client.Reset();
    std::uint64_t sent = 0;
    CHECK(SendFile(c.data_server.get(), ctrl, file.fd(), 0, Options(use_sendfile), &sent) ==
          TransferResult::kDataError);
    CHECK(sent == 0);  // nothing went out (without sendfile it once counted the bytes read)
  }
}

TEST_CASE("SendFile ends with kFileError when the file cannot be read") {
  TempFile file(Bytes(1000));
  UniqueFd write_only(open(file.path().c_str(), O_WRONLY | O_CLOEXEC));
  CHECK(write_only.valid());
  for (bool use_sendfile : {true, false}) {
    for (bool ascii : {false, true}) {
      CAPTURE(use_sendfile);
      CAPTURE(ascii);
      Connections c = Connect();
      ControlConnection ctrl(c.ctrl_server.get());
      std::uint64_t sent = 0;
      CHECK(SendFile(c.data_server.get(), ctrl, write_only.get(), 0,
                     Options(use_sendfile, ascii), &sent) == TransferResult::kFileError);
      CHECK(sent == 0);
    }
  }
}

TEST_CASE("SendFile ends with kTimeout when the client stops reading") {
  const std::string content = Bytes(kStallSize);
  TempFile file(content);
  for (bool use_sendfile : {true, false}) {
    CAPTURE(use_sendfile);
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    TransferOptions options = Options(use_sendfile);
    options.timeout_seconds = 1;
    std::uint64_t sent = 0;
    CHECK(SendFile(c.data_server.get(), ctrl, file.fd(), 0, options, &sent) ==
          TransferResult::kTimeout);
    CHECK(sent > 0);
    CHECK(sent < content.size());
    // What was sent arrived, in order.
    c.data_server.Reset();
    const std::string got = test::ReadAll(c.data_client.get());
    CHECK(got.size() > 0);
    CHECK(Mismatch(got, content.substr(0, got.size())) == "");
    CHECK(got.size() == sent);
  }
}

TEST_CASE("ABOR on the control connection during a download gives kAborted and is consumed") {
  const std::string content = Bytes(kStallSize);
  TempFile file(content);
  for (bool use_sendfile : {true, false}) {
    for (bool ascii : {false, true}) {
      CAPTURE(use_sendfile);
      CAPTURE(ascii);
      Connections c = Connect();
      ControlConnection ctrl(c.ctrl_server.get());
      std::string reply;
      // The client reads the first byte, sends ABOR and stops reading until the server answers
      // it: the transfer stalls with the ABOR waiting, and must see it.
      Peer client([&] {
        char first;
        if (read(c.data_client.get(), &first, 1) != 1) return;
        SendAll(c.ctrl_client.get(), "ABOR\r\n");
        reply = ReadLineFrom(c.ctrl_client.get());
        test::ReadAll(c.data_client.get());
      });
      std::uint64_t sent = 0;
      CHECK(SendFile(c.data_server.get(), ctrl, file.fd(), 0, Options(use_sendfile, ascii),
                     &sent) == TransferResult::kAborted);
      CHECK(sent < content.size());
      CHECK(NothingWaiting(c.ctrl_server.get()));
      ctrl.Reply(426, "Transfer aborted.");
      c.data_server.Reset();
      client.Join();
      CHECK(reply == "426 Transfer aborted.\r\n");
    }
  }
}

TEST_CASE("ABOR is recognised in lower case and after telnet IP and DM") {
  const std::string content = Bytes(kStallSize);
  TempFile file(content);
  for (std::string_view abor : {"abor\r\n", "\xff\xf4\xff\xf2" "ABOR\r\n", "ABOR\n"}) {
    CAPTURE(abor);
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    // Waiting before the transfer starts: seen as soon as the client's buffers are full.
    CHECK(SendAll(c.ctrl_client.get(), abor));
    std::uint64_t sent = 0;
    CHECK(SendFile(c.data_server.get(), ctrl, file.fd(), 0, Options(), &sent) ==
          TransferResult::kAborted);
    CHECK(NothingWaiting(c.ctrl_server.get()));
  }
}

TEST_CASE("another command on the control connection waits until the download ends") {
  const std::string content = Bytes(kStallSize);
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  CHECK(SendAll(c.ctrl_client.get(), "NOOP\r\nABOR\r\n"));
  TempFile file(content);
  std::string got;
  Peer client([&] { got = test::ReadAll(c.data_client.get()); });
  std::uint64_t sent = 0;
  CHECK(SendFile(c.data_server.get(), ctrl, file.fd(), 0, Options(), &sent) ==
        TransferResult::kOk);
  c.data_server.Reset();
  client.Join();
  CHECK(Mismatch(got, content) == "");
  // Both commands are still there, in order, for the session to read next.
  std::string line;
  CHECK(ctrl.ReadLine(&line, kSafetyTimeout) == ControlConnection::ReadOutcome::kLine);
  CHECK(line == "NOOP");
  CHECK(ctrl.ReadLine(&line, kSafetyTimeout) == ControlConnection::ReadOutcome::kLine);
  CHECK(line == "ABOR");
}

TEST_CASE("a download ends with kControlClosed when the control connection goes away") {
  TempFile file(Bytes(kStallSize));
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  c.ctrl_client.Reset();
  std::uint64_t sent = 0;
  CHECK(SendFile(c.data_server.get(), ctrl, file.fd(), 0, Options(), &sent) ==
        TransferResult::kControlClosed);
}

TEST_CASE("ABOR is seen while max_rate holds a download back") {
  const std::string content = Bytes(1 << 20);
  TempFile file(content);
  for (bool use_sendfile : {true, false}) {
    CAPTURE(use_sendfile);
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    CHECK(SendAll(c.ctrl_client.get(), "ABOR\r\n"));
    TransferOptions options = Options(use_sendfile);
    options.max_rate = 20 << 10;  // 1 MiB would take 51 seconds
    std::uint64_t sent = 0;
    CHECK(SendFile(c.data_server.get(), ctrl, file.fd(), 0, options, &sent) ==
          TransferResult::kAborted);
    CHECK(sent > 0);
    CHECK(sent < content.size());
    CHECK(NothingWaiting(c.ctrl_server.get()));
  }
}

TEST_CASE("max_rate transfers keep every byte") {
  const std::string content = Bytes(300000);
  TransferOptions options = Options();
  options.max_rate = 8 << 20;  // chunks of a twentieth of that, about 40 ms in all
  for (bool use_sendfile : {true, false}) {
    CAPTURE(use_sendfile);
    options.use_sendfile = use_sendfile;
    Download d = RunSendFile(content, 0, options);
    CHECK(d.result == TransferResult::kOk);
    CHECK(Mismatch(d.received, content) == "");
  }
  Upload u = RunReceiveFile(content, options);
  CHECK(u.result == TransferResult::kOk);
  CHECK(Mismatch(u.stored, content) == "");
}

// ---- listings ----

TEST_CASE("SendBuffer sends a buffer as it is, or converted in ASCII mode") {
  for (std::size_t size : kSizes) {
    CAPTURE(size);
    const std::string data = Bytes(size);
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    std::string got;
    Peer client([&] { got = test::ReadAll(c.data_client.get()); });
    std::uint64_t sent = 0;
    CHECK(SendBuffer(c.data_server.get(), ctrl, data, Options(), &sent) == TransferResult::kOk);
    c.data_server.Reset();
    client.Join();
    CHECK(sent == size);
    CHECK(Mismatch(got, data) == "");
  }
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  std::uint64_t sent = 0;
  CHECK(SendBuffer(c.data_server.get(), ctrl, "a\nb\r\nc\r", Options(true, true), &sent) ==
        TransferResult::kOk);
  c.data_server.Reset();
  CHECK(test::ReadAll(c.data_client.get()) == "a\r\nb\r\nc\r");
  CHECK(sent == 8);  // the bytes on the wire
}

TEST_CASE("SendBuffer ends with kAborted, kTimeout or kDataError like a file") {
  const std::string big = Bytes(kStallSize);
  {
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    CHECK(SendAll(c.ctrl_client.get(), "ABOR\r\n"));
    std::uint64_t sent = 0;
    CHECK(SendBuffer(c.data_server.get(), ctrl, big, Options(), &sent) ==
          TransferResult::kAborted);
    CHECK(sent < big.size());
    CHECK(NothingWaiting(c.ctrl_server.get()));
  }
  {
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    TransferOptions options = Options();
    options.timeout_seconds = 1;
    std::uint64_t sent = 0;
    CHECK(SendBuffer(c.data_server.get(), ctrl, big, options, &sent) == TransferResult::kTimeout);
    CHECK(sent > 0);
    CHECK(sent < big.size());
  }
  {
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    c.data_client.Reset();
    std::uint64_t sent = 0;
    CHECK(SendBuffer(c.data_server.get(), ctrl, "listing\r\n", Options(), &sent) ==
          TransferResult::kDataError);
  }
}

// ---- uploads ----

TEST_CASE("ReceiveFile stores every byte of uploads of every size, and ends with kOk") {
  for (std::size_t size : kSizes) {
    CAPTURE(size);
    const std::string wire = Bytes(size);
    Upload u = RunReceiveFile(wire, Options());
    CHECK(u.result == TransferResult::kOk);
    CHECK(u.received == size);
    CHECK(u.file_errno == 0);
    CHECK(Mismatch(u.stored, wire) == "");
  }
}

TEST_CASE("ReceiveFile writes at the file's offset (APPE)") {
  TempFile file("head:");
  CHECK(lseek(file.fd(), 0, SEEK_END) == 5);
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  CHECK(SendAll(c.data_client.get(), "tail"));
  shutdown(c.data_client.get(), SHUT_WR);
  std::uint64_t received = 0;
  int err = -1;
  CHECK(ReceiveFile(c.data_server.get(), ctrl, file.fd(), Options(), &received, &err) ==
        TransferResult::kOk);
  CHECK(received == 4);
  CHECK(file.Contents() == "head:tail");
}

TEST_CASE("ASCII uploads turn CRLF into LF and keep a lone CR") {
  Upload u = RunReceiveFile("one\r\ntwo\nthree\rfour\r\n\r\n\r", Options(true, true));
  CHECK(u.result == TransferResult::kOk);
  CHECK(u.received == 24);  // the bytes on the wire
  CHECK(u.stored == "one\ntwo\nthree\rfour\n\n\r");
  // A binary upload keeps them all.
  u = RunReceiveFile("a\r\nb\r", Options());
  CHECK(u.stored == "a\r\nb\r");
}

TEST_CASE("ASCII uploads convert a CRLF split between two reads") {
  TempFile file;
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  // Each piece is read by the server before the next is sent: the first read ends with the CR
  // of a CRLF, the second with a CR followed by something else, the last with a CR that ends
  // the upload.
  Peer client([&] {
    for (std::string_view piece : {"one\r", "\ntwo\r", "three\r"}) {
      SendAll(c.data_client.get(), piece);
      WaitUntilPeerRead(c.data_client.get());
    }
    shutdown(c.data_client.get(), SHUT_WR);
  });
  std::uint64_t received = 0;
  int err = -1;
  CHECK(ReceiveFile(c.data_server.get(), ctrl, file.fd(), Options(true, true), &received, &err) ==
        TransferResult::kOk);
  client.Join();
  CHECK(received == 15);
  CHECK(file.Contents() == "one\ntwo\rthree\r");

  // Many CRLFs sent at once, split wherever the reads happen to split them.
  std::string wire = "x";
  std::string expected = "x";
  for (int i = 0; i < (1 << 20); ++i) {
    wire += "\r\n";
    expected += '\n';
  }
  Upload u = RunReceiveFile(wire, Options(true, true));
  CHECK(u.result == TransferResult::kOk);
  CHECK(Mismatch(u.stored, expected) == "");
}

TEST_CASE("an upload ends with kControlClosed when the control connection closed first") {
  TempFile file;
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  c.ctrl_client.Reset();
  CHECK(SendAll(c.data_client.get(), "partial"));
  shutdown(c.data_client.get(), SHUT_WR);
  std::uint64_t received = 0;
  int err = -1;
  CHECK(ReceiveFile(c.data_server.get(), ctrl, file.fd(), Options(), &received, &err) ==
        TransferResult::kControlClosed);
  CHECK(received == 7);
  CHECK(err == 0);
}

TEST_CASE("an upload whose control connection closes in the middle ends with kControlClosed") {
  TempFile file;
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  // The data stays open: the server waits for more and sees the control connection end.
  CHECK(SendAll(c.data_client.get(), "partial"));
  c.ctrl_client.Reset();
  std::uint64_t received = 0;
  int err = -1;
  CHECK(ReceiveFile(c.data_server.get(), ctrl, file.fd(), Options(), &received, &err) ==
        TransferResult::kControlClosed);
  CHECK(received == 7);
}

TEST_CASE("ABOR during an upload gives kAborted and is consumed") {
  for (std::string_view abor : {"ABOR\r\n", "abor\r\n", "\xff\xf4\xff\xf2" "ABOR\r\n"}) {
    CAPTURE(abor);
    TempFile file;
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    // The data connection stays open: the server has read all there is when it looks.
    CHECK(SendAll(c.data_client.get(), "first part"));
    CHECK(SendAll(c.ctrl_client.get(), abor));
    std::uint64_t received = 0;
    int err = -1;
    CHECK(ReceiveFile(c.data_server.get(), ctrl, file.fd(), Options(), &received, &err) ==
          TransferResult::kAborted);
    CHECK(received == 10);
    CHECK(file.Contents() == "first part");
    CHECK(NothingWaiting(c.ctrl_server.get()));
  }
}

TEST_CASE("an ABOR that arrives in pieces is still recognised") {
  TempFile file;
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  Peer client([&] {
    SendAll(c.ctrl_client.get(), "AB");
    WaitUntilPeerRead(c.ctrl_client.get());  // the server took the half line
    SendAll(c.ctrl_client.get(), "OR\r\n");
  });
  std::uint64_t received = 0;
  int err = -1;
  CHECK(ReceiveFile(c.data_server.get(), ctrl, file.fd(), Options(), &received, &err) ==
        TransferResult::kAborted);
  client.Join();
  CHECK(NothingWaiting(c.ctrl_server.get()));
  // The next line read starts afresh, without the half line's bytes.
  CHECK(SendAll(c.ctrl_client.get(), "PWD\r\n"));
  std::string line;
  CHECK(ctrl.ReadLine(&line, kSafetyTimeout) == ControlConnection::ReadOutcome::kLine);
  CHECK(line == "PWD");
}

TEST_CASE("ReceiveFile ends with kTimeout when the client stops sending") {
  TempFile file;
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  CHECK(SendAll(c.data_client.get(), "0123456789"));
  TransferOptions options = Options();
  options.timeout_seconds = 1;
  std::uint64_t received = 0;
  int err = -1;
  CHECK(ReceiveFile(c.data_server.get(), ctrl, file.fd(), options, &received, &err) ==
        TransferResult::kTimeout);
  CHECK(received == 10);
  CHECK(file.Contents() == "0123456789");
}

TEST_CASE("ReceiveFile ends with kDataError when the client resets the data connection") {
  TempFile file;
  Connections c = Connect();
  ControlConnection ctrl(c.ctrl_server.get());
  // A socket closed with bytes it never read resets its peer (ECONNRESET).
  CHECK(send(c.data_server.get(), "x", 1, MSG_NOSIGNAL) == 1);
  c.data_client.Reset();
  std::uint64_t received = 0;
  int err = -1;
  CHECK(ReceiveFile(c.data_server.get(), ctrl, file.fd(), Options(), &received, &err) ==
        TransferResult::kDataError);
  CHECK(received == 0);
}

TEST_CASE("ReceiveFile ends with kFileError and the errno when the file refuses the bytes") {
  SUBCASE("a full disk (/dev/full)") {
    for (bool ascii : {false, true}) {
      CAPTURE(ascii);
      UniqueFd full(open("/dev/full", O_WRONLY | O_CLOEXEC));
      CHECK(full.valid());
      Connections c = Connect();
      ControlConnection ctrl(c.ctrl_server.get());
      CHECK(SendAll(c.data_client.get(), "data\n"));
      shutdown(c.data_client.get(), SHUT_WR);
      std::uint64_t received = 0;
      int err = 0;
      CHECK(ReceiveFile(c.data_server.get(), ctrl, full.get(), Options(true, ascii), &received,
                        &err) == TransferResult::kFileError);
      CHECK(err == ENOSPC);
    }
  }
  SUBCASE("the CR held back to the end of an ASCII upload") {
    UniqueFd full(open("/dev/full", O_WRONLY | O_CLOEXEC));
    CHECK(full.valid());
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    CHECK(SendAll(c.data_client.get(), "\r"));
    shutdown(c.data_client.get(), SHUT_WR);
    std::uint64_t received = 0;
    int err = 0;
    CHECK(ReceiveFile(c.data_server.get(), ctrl, full.get(), Options(true, true), &received,
                      &err) == TransferResult::kFileError);
    CHECK(received == 1);
    CHECK(err == ENOSPC);
  }
  SUBCASE("a file opened read-only") {
    TempFile file;
    UniqueFd read_only(open(file.path().c_str(), O_RDONLY | O_CLOEXEC));
    CHECK(read_only.valid());
    Connections c = Connect();
    ControlConnection ctrl(c.ctrl_server.get());
    CHECK(SendAll(c.data_client.get(), "data"));
    shutdown(c.data_client.get(), SHUT_WR);
    std::uint64_t received = 0;
    int err = 0;
    CHECK(ReceiveFile(c.data_server.get(), ctrl, read_only.get(), Options(), &received, &err) ==
          TransferResult::kFileError);
    CHECK(err == EBADF);
    CHECK(file.Contents().empty());
  }
}

}  // namespace
}  // namespace keepftpd
