// Tests for src/common/ipc.cc: messages of every size and type cross the channel whole, a
// descriptor rides along as the same open file, end of stream is kClosed, and every datagram the
// header says is refused is an error that leaves no descriptor behind.
#include "ipc.h"

#include <dirent.h>
#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ipc_messages.h"
#include "test_support.h"

namespace keepftpd {
namespace {

struct Channel {
  UniqueFd monitor_end;
  UniqueFd jail_end;
  Channel() { CHECK_OR_RETURN(MakeChannel(&monitor_end, &jail_end).ok()); }
};

// Descriptors open in this process (the listing's own included: it is there every time).
int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  CHECK_OR_RETURN(dir != nullptr, -1);
  int count = 0;
  while (readdir(dir) != nullptr) ++count;
  closedir(dir);
  return count;
}

// A file to pass around: anonymous, so nothing is left on disk.
UniqueFd MakeFile(const char* name) {
  UniqueFd fd(memfd_create(name, MFD_CLOEXEC));
  CHECK(fd.valid());
  return fd;
}

bool SameFile(int a, int b) {
  struct stat sa, sb;
  CHECK_OR_RETURN(fstat(a, &sa) == 0, false);
  CHECK_OR_RETURN(fstat(b, &sb) == 0, false);
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Sends one datagram by hand, with any number of descriptors in one SCM_RIGHTS record: what a
// misbehaving peer could send, which SendMessage never does.
void SendDatagram(int channel, const std::string& bytes, const std::vector<int>& fds = {}) {
  iovec iov = {const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  CHECK_OR_RETURN(sendmsg(channel, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}

// Receives one message, which must be one (not an error, not end of stream).
bool Receive(int channel, Message* got) {
  std::string error;
  const ReceiveOutcome r = ReceiveMessage(channel, got, &error);
  CHECK_MESSAGE(r == ReceiveOutcome::kMessage, error);
  return r == ReceiveOutcome::kMessage;
}

// True when no datagram is waiting on channel.
bool NothingWaiting(int channel) {
  char byte;
  return recv(channel, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

std::string Pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + size) & 0xff);
  return s;
}

constexpr MsgType kAllTypes[] = {
    MsgType::kLogin,         MsgType::kLog,         MsgType::kPasvListen,
    MsgType::kDataAccept,    MsgType::kPortConnect, MsgType::kSeccompReport,
    MsgType::kReinit,        MsgType::kChownUpload, MsgType::kStartTls,
    MsgType::kTlsData,       MsgType::kTlsWrap,     MsgType::kTlsDataStatus,
    MsgType::kTlsDataEnd,    MsgType::kEvent,       MsgType::kProxyInfo,
    MsgType::kTlsReady,      MsgType::kTlsStart,    MsgType::kDataCancel,
    MsgType::kLoginResult,   MsgType::kPasvListenResult, MsgType::kDataResult,
    MsgType::kChownResult,   MsgType::kTlsWrapResult, MsgType::kStartTlsResult,
    MsgType::kTlsDataStatusResult, MsgType::kProxyInfoResult,
};

TEST_CASE("MakeChannel gives two connected close-on-exec SOCK_SEQPACKET ends") {
  Channel c;
  for (int fd : {c.monitor_end.get(), c.jail_end.get()}) {
    int type = 0;
    socklen_t len = sizeof(type);
    CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0);
    CHECK(type == SOCK_SEQPACKET);
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  }
  Message got;
  CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kLog, "up").ok());
  if (!Receive(c.monitor_end.get(), &got)) return;
  CHECK(got.body == "up");
  CHECK_OR_RETURN(SendMessage(c.monitor_end.get(), MsgType::kLog, "down").ok());
  if (!Receive(c.jail_end.get(), &got)) return;
  CHECK(got.body == "down");
}

TEST_CASE("Every body size from 0 to kMaxMessageBody arrives whole, as one message") {
  Channel c;
  for (std::size_t size = 0; size <= kMaxMessageBody; ++size) {
    CAPTURE(size);
    const std::string body = Pattern(size);
    CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kEvent, body).ok());
    Message got;
    if (!Receive(c.monitor_end.get(), &got)) return;
    CHECK(got.type == MsgType::kEvent);
    CHECK(got.body == body);
    CHECK_FALSE(got.fd.valid());
  }
  CHECK(NothingWaiting(c.monitor_end.get()));
}

TEST_CASE("Messages sent back to back are received one at a time, in order") {
  Channel c;
  CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kLog, "one").ok());
  CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kPasvListen, "").ok());
  const std::string full(kMaxMessageBody, 'x');
  CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kLog, full).ok());
  Message got;
  if (!Receive(c.monitor_end.get(), &got)) return;
  CHECK(got.type == MsgType::kLog);
  CHECK(got.body == "one");
  if (!Receive(c.monitor_end.get(), &got)) return;
  CHECK(got.type == MsgType::kPasvListen);
  CHECK(got.body.empty());
  if (!Receive(c.monitor_end.get(), &got)) return;
  CHECK(got.type == MsgType::kLog);
  CHECK(got.body == full);
}

TEST_CASE("A body one byte over kMaxMessageBody is refused and nothing is sent") {
  Channel c;
  Status s = SendMessage(c.jail_end.get(), MsgType::kLog, std::string(kMaxMessageBody + 1, 'x'));
  CHECK_FALSE(s.ok());
  CHECK_FALSE(s.message().empty());
  CHECK(NothingWaiting(c.monitor_end.get()));
}

TEST_CASE("Every message type round-trips, and travels as a little-endian u16") {
  Channel c;
  for (MsgType type : kAllTypes) {
    const std::string name = MsgTypeName(type);
    CAPTURE(name);
    CHECK_OR_RETURN(SendMessage(c.jail_end.get(), type, "body").ok());
    Message got;
    if (!Receive(c.monitor_end.get(), &got)) return;
    CHECK(got.type == type);
    CHECK(got.body == "body");
  }

  // On the wire: the type's low byte first, then the body.
  CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kProxyInfoResult, "ab").ok());
  char raw[8];
  CHECK(recv(c.monitor_end.get(), raw, sizeof(raw), 0) == 4);
  CHECK(std::string(raw, 4) == std::string("\x6c\x00" "ab", 4));  // 108

  // The channel carries a type it does not know as it is: the receiver decides what to do.
  SendDatagram(c.jail_end.get(), std::string("\xef\xbe", 2));
  Message got;
  if (!Receive(c.monitor_end.get(), &got)) return;
  CHECK(static_cast<std::uint16_t>(got.type) == 0xbeef);
  CHECK(got.body.empty());
  CHECK(std::string(MsgTypeName(got.type)) == "UNKNOWN");
  // Nor does it name the retired HASH_FILE (17) and HASH_RESULT (109), or carry a descriptor.
  for (std::uint16_t retired : {17, 109}) {
    CAPTURE(retired);
    CHECK(std::string(MsgTypeName(static_cast<MsgType>(retired))) == "UNKNOWN");
    CHECK_FALSE(MessageCarriesFd(static_cast<MsgType>(retired)));
  }
}

TEST_CASE("A descriptor rides along and refers to the same open file") {
  Channel c;
  UniqueFd file = MakeFile("ipc_test_ride");
  CHECK_OR_RETURN(write(file.get(), "data me", 7) == 7);
  const std::string ok("\x01\x00\x00", 3);  // DATA_RESULT {u8 ok, str ""} + fd
  CHECK_OR_RETURN(SendMessage(c.monitor_end.get(), MsgType::kDataResult, ok, file.get()).ok());
  Message got;
  if (!Receive(c.jail_end.get(), &got)) return;
  CHECK(got.type == MsgType::kDataResult);
  CHECK(got.body == ok);
  CHECK_OR_RETURN(got.fd.valid());
  CHECK(got.fd.get() != file.get());
  CHECK(SameFile(got.fd.get(), file.get()));
  CHECK((fcntl(got.fd.get(), F_GETFD) & FD_CLOEXEC) != 0);  // received close-on-exec
  // One open file: the offset the sender's write moved is the receiver's too.
  CHECK(lseek(got.fd.get(), 0, SEEK_CUR) == 7);

  // With an empty body too (CHOWN_UPLOAD is {} + fd).
  CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kChownUpload, "", file.get()).ok());
  Message second;
  if (!Receive(c.monitor_end.get(), &second)) return;
  CHECK(second.type == MsgType::kChownUpload);
  CHECK(second.body.empty());
  CHECK_OR_RETURN(second.fd.valid());
  CHECK(SameFile(second.fd.get(), file.get()));

  // The next message without one does not inherit it.
  CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kLog, "plain").ok());
  Message third;
  if (!Receive(c.monitor_end.get(), &third)) return;
  CHECK_FALSE(third.fd.valid());
}

TEST_CASE("Sending fails with a Status, not a signal, when the descriptor or the peer is gone") {
  Channel c;
  UniqueFd file = MakeFile("ipc_test_bad");
  const int stale = file.get();
  file.Reset();
  Status bad_fd = SendMessage(c.jail_end.get(), MsgType::kChownUpload, "", stale);
  CHECK_FALSE(bad_fd.ok());
  CHECK(bad_fd.errno_value() == EBADF);
  CHECK(NothingWaiting(c.monitor_end.get()));

  c.monitor_end.Reset();
  Status gone = SendMessage(c.jail_end.get(), MsgType::kLog, "anyone?");
  CHECK_FALSE(gone.ok());
  CHECK(gone.errno_value() == EPIPE);  // MSG_NOSIGNAL: no SIGPIPE ended this test
}

TEST_CASE("End of stream is kClosed, after every message sent before it") {
  Channel c;
  CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kLog, "last words").ok());
  c.jail_end.Reset();
  Message got;
  std::string error;
  if (!Receive(c.monitor_end.get(), &got)) return;
  CHECK(got.body == "last words");
  CHECK(ReceiveMessage(c.monitor_end.get(), &got, &error) == ReceiveOutcome::kClosed);
  CHECK(ReceiveMessage(c.monitor_end.get(), &got, &error) == ReceiveOutcome::kClosed);
}

TEST_CASE("A peer that closes with messages unread (ECONNRESET) is kClosed too") {
  Channel c;
  CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kLog, "never read").ok());
  c.monitor_end.Reset();  // with that message still queued: the kernel resets the connection
  Message got;
  std::string error;
  CHECK(ReceiveMessage(c.jail_end.get(), &got, &error) == ReceiveOutcome::kClosed);
  CHECK(error.empty());
  CHECK(ReceiveMessage(c.jail_end.get(), &got, &error) == ReceiveOutcome::kClosed);
}

struct Refused {
  const char* what;
  std::size_t datagram_bytes;  // type field included
  int descriptors;
  const char* error;
};

constexpr Refused kRefused[] = {
    {"one byte: too short for the type field", 1, 0, "message of bad size 1"},
    {"one byte with a descriptor", 1, 1, "message of bad size 1"},
    {"a body one byte over kMaxMessageBody", 2 + kMaxMessageBody + 1, 0,
     "message of bad size 4099"},
    {"a body one byte over, with a descriptor", 2 + kMaxMessageBody + 1, 1,
     "message of bad size 4099"},
    {"a body two bytes over: truncated", 2 + kMaxMessageBody + 2, 0, "truncated message"},
    {"a 64 KiB datagram, with a descriptor: truncated", 65536, 1, "truncated message"},
    {"two descriptors", 2, 2, "more than one descriptor in a message"},
    {"two descriptors with a full body", 2 + kMaxMessageBody, 2,
     "more than one descriptor in a message"},
    {"five descriptors: more than the control buffer holds", 2, 5, "truncated message"},
    {"five descriptors and a truncated body", 65536, 5, "truncated message"},
};

TEST_CASE("Every refused datagram is kError with its reason, and its descriptors are closed") {
  for (const Refused& r : kRefused) {
    const std::string what = r.what;
    CAPTURE(what);
    Channel c;
    std::vector<UniqueFd> files;
    std::vector<int> fds;
    for (int i = 0; i < r.descriptors; ++i) {
      files.push_back(MakeFile("ipc_test_stray"));
      fds.push_back(files.back().get());
    }
    const int open_before = CountOpenFds();
    SendDatagram(c.jail_end.get(), std::string(r.datagram_bytes, '\x02'), fds);
    Message got;
    std::string error;
    CHECK(ReceiveMessage(c.monitor_end.get(), &got, &error) == ReceiveOutcome::kError);
    CHECK(error == std::string(r.error));
    CHECK_FALSE(got.fd.valid());
    CHECK(CountOpenFds() == open_before);

    // Only that datagram was taken: the next message arrives as sent.
    CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kLog, "next").ok());
    if (!Receive(c.monitor_end.get(), &got)) return;
    CHECK(got.type == MsgType::kLog);
    CHECK(got.body == "next");
  }
}

TEST_CASE("Sending and receiving a descriptor leaves exactly one new descriptor open") {
  Channel c;
  UniqueFd file = MakeFile("ipc_test_count");
  const int open_before = CountOpenFds();
  {
    CHECK_OR_RETURN(SendMessage(c.jail_end.get(), MsgType::kChownUpload, "", file.get()).ok());
    Message got;
    if (!Receive(c.monitor_end.get(), &got)) return;
    CHECK(CountOpenFds() == open_before + 1);  // the received copy, owned by got.fd
  }
  CHECK(CountOpenFds() == open_before);
}

// On SOCK_SEQPACKET an empty datagram reads as 0 bytes, like the end of the stream: it must
// neither pass for the end (a jail could make the monitor take it for gone) nor leak what it
// carried.
TEST_CASE("An empty datagram is kError, not end of stream, and its descriptor is closed") {
  Channel c;
  UniqueFd file = MakeFile("ipc_test_empty");
  const int open_before = CountOpenFds();
  SendDatagram(c.jail_end.get(), "", {file.get()});
  Message got;
  std::string error;
  CHECK(ReceiveMessage(c.monitor_end.get(), &got, &error) == ReceiveOutcome::kError);
  CHECK_FALSE(got.fd.valid());
  CHECK(CountOpenFds() == open_before);
  // Without a descriptor as well; the channel is still open afterwards.
  SendDatagram(c.jail_end.get(), "", {});
  CHECK(ReceiveMessage(c.monitor_end.get(), &got, &error) == ReceiveOutcome::kError);
  CHECK(SendMessage(c.jail_end.get(), MsgType::kLog, "x").ok());
  CHECK(ReceiveMessage(c.monitor_end.get(), &got, &error) == ReceiveOutcome::kMessage);
  // The real end of the stream is still kClosed.
  c.jail_end.Reset();
  CHECK(ReceiveMessage(c.monitor_end.get(), &got, &error) == ReceiveOutcome::kClosed);
}

}  // namespace
}  // namespace keepftpd
