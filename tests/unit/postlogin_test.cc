// Tests for src/jail/postlogin.cc: RunSession, the logged-in command loop, as an FTP client and
// the disk see it. Each case forks a session jail that chroots into a temporary tree and runs as
// uid/gid 65534, as in production; the test speaks FTP to it over a socketpair standing in for
// the control connection and plays its monitor on the channel: PASV_LISTEN answered as the
// monitor answers it, DATA_ACCEPT answered with one end of a fresh socketpair as the data
// connection, EVENT records decoded as the monitor's HandleEvent decodes them.
#include "postlogin.h"

#include <doctest/doctest.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.h"
#include "ipc.h"
#include "ipc_messages.h"
#include "log.h"
#include "session.h"
#include "sockaddr.h"
#include "test_support.h"
#include "unique_fd.h"
#include "wire.h"

namespace keepftpd {
namespace {

constexpr uid_t kUser = 65534;   // the session's uid and gid, and the owner of the tree
constexpr int kWaitMs = 10000;   // the longest any read from the session waits: no hang
constexpr std::uint16_t kPasvPort = 50000;  // the port the fake monitor's listener "got"
constexpr time_t kFileTime = 1612325106;    // 2021-02-03 04:05:06 UTC
constexpr std::string_view kUploadPrefix = ".keepftpd-upload-";

bool Contains(std::string_view s, std::string_view part) { return s.find(part) != s.npos; }

// Whether fd becomes readable within kWaitMs.
bool Readable(int fd) {
  pollfd p = {fd, POLLIN, 0};
  int n;
  do {
    n = poll(&p, 1, kWaitMs);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    pollfd p = {fd, POLLOUT, 0};
    CHECK_OR_RETURN(poll(&p, 1, kWaitMs) > 0, false);
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    CHECK_OR_RETURN(n > 0, false);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Everything fd receives up to the end of its stream; *complete is false when it stalled for
// kWaitMs or broke before the end.
std::string ReadToEnd(int fd, bool* complete) {
  std::string out;
  char buf[65536];
  *complete = false;
  while (Readable(fd)) {
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      *complete = n == 0;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// True when nothing is waiting to be read on fd (a reply that has not come, a request not made).
bool NothingWaiting(int fd) {
  char byte;
  return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    std::size_t end = text.find("\r\n");
    if (end == text.npos) {
      out.emplace_back(text);
      break;
    }
    out.emplace_back(text.substr(0, end));
    text.remove_prefix(end + 2);
  }
  return out;
}

// The bytes 0..255 and some line ends: what a binary transfer must carry unchanged.
std::string BinaryBytes() {
  std::string out;
  for (int i = 0; i < 256; ++i) out += static_cast<char>(i);
  return out + "\r\n\n\r";
}

std::string Pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 7 + i / 251) % 256);
  return out;
}

// A directory tree under /tmp owned by the session's user; removed at the end with whatever the
// session made in it.
class Tree {
 public:
  Tree() {
    char path[] = "/tmp/keepftpd-postlogin-test-XXXXXX";
    CHECK_OR_RETURN(mkdtemp(path) != nullptr);
    root_ = path;
    CHECK(chmod(path, 0755) == 0);
    CHECK(chown(path, kUser, kUser) == 0);
  }
  ~Tree() {
    if (!root_.empty()) nftw(root_.c_str(), RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
  }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  const std::string& root() const { return root_; }
  std::string Path(std::string_view rel) const { return root_ + "/" + std::string(rel); }

  bool Dir(std::string_view rel) {
    std::string p = Path(rel);
    CHECK_OR_RETURN(mkdir(p.c_str(), 0755) == 0, false);
    CHECK_OR_RETURN(chmod(p.c_str(), 0755) == 0, false);
    CHECK_OR_RETURN(chown(p.c_str(), kUser, kUser) == 0, false);
    return true;
  }
  bool File(std::string_view rel, std::string_view content) {
    std::string p = Path(rel);
    UniqueFd fd(open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    CHECK_OR_RETURN(fd.valid(), false);
    CHECK_OR_RETURN(fchmod(fd.get(), 0644) == 0, false);
    CHECK_OR_RETURN(fchown(fd.get(), kUser, kUser) == 0, false);
    CHECK_OR_RETURN(write(fd.get(), content.data(), content.size()) ==
                        static_cast<ssize_t>(content.size()),
                    false);
    const struct timespec times[2] = {{kFileTime, 0}, {kFileTime, 0}};
    CHECK_OR_RETURN(futimens(fd.get(), times) == 0, false);
    return true;
  }
  bool Exists(std::string_view rel) const {
    struct stat st;
    return lstat(Path(rel).c_str(), &st) == 0;
  }
  // The file's bytes, or "<missing>".
  std::string Contents(std::string_view rel) const {
    UniqueFd fd(open(Path(rel).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return "<missing>";
    return test::ReadAll(fd.get());
  }
  // The names in a directory, sorted, without "." and "..".
  std::vector<std::string> Names(std::string_view rel_dir) const {
    std::vector<std::string> out;
    DIR* d = opendir(Path(rel_dir).c_str());
    CHECK_OR_RETURN(d != nullptr, out);
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }
  // The size of the hidden file an atomic upload is writing into rel_dir, or -1.
  long UploadFileSize(std::string_view rel_dir) const {
    long size = -1;
    DIR* d = opendir(Path(rel_dir).c_str());
    if (d == nullptr) return size;
    while (dirent* e = readdir(d)) {
      struct stat st;
      std::string rel = std::string(rel_dir) + "/" + e->d_name;
      if (std::string_view(e->d_name).substr(0, kUploadPrefix.size()) == kUploadPrefix &&
          lstat(Path(rel).c_str(), &st) == 0) {
        size = static_cast<long>(st.st_size);
      }
    }
    closedir(d);
    return size;
  }
  bool HasUploadFile(std::string_view rel_dir) const { return UploadFileSize(rel_dir) >= 0; }

 private:
  static int RemoveOne(const char* path, const struct stat*, int, struct FTW*) {
    remove(path);
    return 0;
  }
  std::string root_;
};

// One reply as the client reads it: its code, the text of its last line, and all its bytes.
struct Reply {
  int code = 0;
  std::string text;
  std::string all;
};

// One EVENT record, decoded as the monitor's HandleEvent decodes it.
struct Event {
  int priority = -1;
  std::string text, command, path, result, target;
  std::int64_t bytes = -1;
  char type = 0;
};

SessionUser LocalUser() {
  SessionUser user;
  user.anonymous = false;
  user.anonymous_login = false;
  user.chrooted = true;
  user.name = "alice";
  user.home = "/";
  user.start = "/";
  return user;
}

// The fixture every case shares: the tree, the session jail running RunSession in it (a child
// process, killed and reaped at the end), the test's end of its control connection (the FTP
// client) and of its channel (the fake monitor).
//
// The tree: hello.txt ("hello\nworld\n"), old.txt, big.bin (4 MiB), secret.deny, empty/,
// full/keep.txt, pub/{a.txt, b.bin, c.hide, .dot, sub/deep.txt}; every file dated kFileTime.
// The config: hide_file={*.hide}, deny_file={*.deny}, then extra_config.
class Fixture {
 public:
  explicit Fixture(std::string_view extra_config = "") {
    CHECK_OR_RETURN(!tree_.root().empty());
    CHECK_OR_RETURN(MakeTree());
    std::vector<ConfigError> errors;
    config_ = ParseConfig("hide_file={*.hide}\ndeny_file={*.deny}\n" + std::string(extra_config),
                          "test.conf", &errors);
    for (const ConfigError& e : errors) FAIL_CHECK(e.ToString());
    CHECK_OR_RETURN(errors.empty());
    info_.peer = SockAddr::FromHostString("127.0.0.1", 40000).value();
    info_.local = SockAddr::FromHostString("127.0.0.1", 21).value();
    info_.session_id = std::string(32, 'a');
    info_.anonymous.name = "ftp";
    info_.anonymous.uid = kUser;
    info_.anonymous.gid = kUser;
    UniqueFd jail_end;
    CHECK_OR_RETURN(MakeChannel(&monitor_, &jail_end).ok());
    int fds[2];
    CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    UniqueFd server(fds[0]);
    client_.Reset(fds[1]);
    info_.control_fd = server.get();
    pid_ = fork();
    CHECK_OR_RETURN(pid_ >= 0);
    if (pid_ == 0) RunJail(jail_end.get());
    jail_end.Reset();
    server.Reset();
    greeting_ = ReadReply();
    CHECK(greeting_.code == 230);
  }
  ~Fixture() {
    client_.Reset();
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  bool ok() const { return pid_ > 0 && greeting_.code == 230; }
  const Tree& tree() const { return tree_; }
  int client() const { return client_.get(); }
  int monitor() const { return monitor_.get(); }

  bool SendLine(std::string_view line) { return SendAll(client_.get(), std::string(line) + "\r\n"); }

  // Reads one reply, single or multi-line; code 0 when none came within kWaitMs.
  Reply ReadReply() {
    Reply r;
    std::string line;
    if (!ReadLine(&line) || line.size() < 4) return r;
    r.all = line + "\r\n";
    const std::string code = line.substr(0, 3);
    if (line[3] == '-') {
      do {
        if (!ReadLine(&line)) return r;
        r.all += line + "\r\n";
      } while (line.rfind(code + " ", 0) != 0);
    }
    r.code = std::atoi(code.c_str());
    r.text = line.substr(4);
    return r;
  }

  Reply Command(std::string_view line) {
    if (!SendLine(line)) return Reply();
    return ReadReply();
  }

  // The session's next request to the monitor; the EVENT and LOG records before it are kept.
  bool NextRequest(Message* out) {
    while (true) {
      CHECK_OR_RETURN(Readable(monitor_.get()), false);
      std::string error;
      CHECK_OR_RETURN(ReceiveMessage(monitor_.get(), out, &error) == ReceiveOutcome::kMessage,
                      false);
      if (!Keep(*out)) return true;
    }
  }

  // PASV, answered as the monitor answers when its listener got kPasvPort.
  bool EnterPassive() {
    CHECK_OR_RETURN(SendLine("PASV"), false);
    Message m;
    CHECK_OR_RETURN(NextRequest(&m), false);
    CHECK_OR_RETURN(m.type == MsgType::kPasvListen, false);
    CHECK_OR_RETURN(m.body.empty(), false);
    CHECK_OR_RETURN(SendMessage(monitor_.get(), MsgType::kPasvListenResult,
                                PasvResult(true, kPasvPort, ""))
                        .ok(),
                    false);
    Reply r = ReadReply();
    CHECK_OR_RETURN(r.code == 227, false);
    return true;
  }

  // Answers the session's DATA_ACCEPT with one end of a fresh socketpair (non-blocking, as the
  // monitor's accepted connections are); returns the other end, the client's.
  UniqueFd GiveDataConnection() {
    Message m;
    CHECK_OR_RETURN(NextRequest(&m), UniqueFd());
    CHECK_OR_RETURN(m.type == MsgType::kDataAccept, UniqueFd());
    WireReader r(m.body);
    std::uint8_t tls = 9;
    r.GetU8(&tls);
    CHECK_OR_RETURN(r.Finish() && tls == 0, UniqueFd());
    int fds[2];
    CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0, UniqueFd());
    UniqueFd mine(fds[0]), theirs(fds[1]);
    CHECK_OR_RETURN(fcntl(theirs.get(), F_SETFL, O_NONBLOCK) == 0, UniqueFd());
    CHECK_OR_RETURN(
        SendMessage(monitor_.get(), MsgType::kDataResult, DataResult(true, ""), theirs.get()).ok(),
        UniqueFd());
    return mine;
  }

  struct Download {
    Reply opening;          // 150
    std::string data;       // what came on the data connection
    bool complete = false;  // it ended (not stalled)
    Reply final;            // 226
  };
  // PASV, then command, then reads the data connection to its end and the final reply.
  Download Get(std::string_view command) {
    Download d;
    CHECK_OR_RETURN(EnterPassive(), d);
    CHECK_OR_RETURN(SendLine(command), d);
    UniqueFd data = GiveDataConnection();
    CHECK_OR_RETURN(data.valid(), d);
    d.opening = ReadReply();
    d.data = ReadToEnd(data.get(), &d.complete);
    d.final = ReadReply();
    return d;
  }

  // The EVENT records sent so far (every one sent before the last reply read is there).
  std::vector<Event> TakeEvents() {
    while (true) {
      pollfd p = {monitor_.get(), POLLIN, 0};
      if (poll(&p, 1, 0) <= 0 || (p.revents & POLLIN) == 0) break;
      Message m;
      std::string error;
      if (ReceiveMessage(monitor_.get(), &m, &error) != ReceiveOutcome::kMessage) break;
      CHECK_MESSAGE(Keep(m), "an unexpected request: ", MsgTypeName(m.type));
    }
    return std::exchange(events_, {});
  }
  // The one event for command, or an empty one (command "") when there is not exactly one.
  Event OnlyEvent(std::string_view command) {
    std::vector<Event> found;
    for (Event& e : TakeEvents()) {
      if (e.command == command) found.push_back(std::move(e));
    }
    CHECK_OR_RETURN(found.size() == 1, Event());
    return found.front();
  }

  // Waits (up to kWaitMs) for the session to end by itself, then reaps it.
  bool WaitExit(int* status) {
    // Its channel end closes when it exits: read to the end of the channel first.
    while (true) {
      CHECK_OR_RETURN(Readable(monitor_.get()), false);
      Message m;
      std::string error;
      ReceiveOutcome got = ReceiveMessage(monitor_.get(), &m, &error);
      if (got == ReceiveOutcome::kClosed) break;
      CHECK_OR_RETURN(got == ReceiveOutcome::kMessage, false);
      CHECK_MESSAGE(Keep(m), "an unexpected request: ", MsgTypeName(m.type));
    }
    for (int i = 0; i < kWaitMs / 10; ++i) {
      pid_t r = waitpid(pid_, status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return true;
      }
      CHECK_OR_RETURN(r == 0, false);
      struct timespec ms = {0, 10000000};
      nanosleep(&ms, nullptr);
    }
    return false;
  }

  static std::string PasvResult(bool ok, std::uint16_t port, std::string_view message) {
    WireWriter w;
    w.PutU8(ok ? 1 : 0);
    w.PutU16(port);
    w.PutString(message);
    w.PutU8(0);
    w.PutBytes(std::string_view("\0\0\0\0", 4));
    return w.data();
  }
  static std::string DataResult(bool ok, std::string_view message) {
    WireWriter w;
    w.PutU8(ok ? 1 : 0);
    w.PutString(message);
    return w.data();
  }

 private:
  bool MakeTree() {
    return tree_.File("hello.txt", "hello\nworld\n") && tree_.File("old.txt", "the old version\n") &&
           tree_.File("big.bin", Pattern(4 << 20)) && tree_.File("secret.deny", "denied\n") &&
           tree_.Dir("empty") && tree_.Dir("full") && tree_.File("full/keep.txt", "kept\n") &&
           tree_.Dir("pub") && tree_.File("pub/a.txt", "alpha") &&
           tree_.File("pub/b.bin", BinaryBytes()) && tree_.File("pub/c.hide", "hidden\n") &&
           tree_.File("pub/.dot", "dot\n") && tree_.Dir("pub/sub") &&
           tree_.File("pub/sub/deep.txt", "deep\n");
  }

  // The child: the session jail, entered as production enters it (log sink on the channel,
  // umask, chroot, the user's ids), minus the seccomp filter and namespaces.
  [[noreturn]] void RunJail(int jail_end) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    client_.Reset();
    monitor_.Reset();
    signal(SIGPIPE, SIG_IGN);  // as the monitor sets it before it forks its jails
    UseJailLogSink(jail_end);
    umask(static_cast<mode_t>(config_.local_umask));
    if (chroot(tree_.root().c_str()) != 0 || chdir("/") != 0) _exit(90);
    if (setgroups(0, nullptr) != 0 || setgid(kUser) != 0 || setuid(kUser) != 0) _exit(91);
    RunSession(config_, info_, jail_end, user_);
  }

  // Keeps an EVENT or LOG record; false for anything else (a request).
  bool Keep(const Message& m) {
    WireReader r(m.body);
    std::uint8_t priority = 0;
    Event e;
    if (m.type == MsgType::kLog) {
      r.GetU8(&priority);
      r.GetString(kMaxLogText, &e.text);
      CHECK(r.Finish());
      MESSAGE("the session logged: ", e.text);
      return true;
    }
    if (m.type != MsgType::kEvent) return false;
    std::uint64_t bytes = 0, usec = 0;
    std::uint8_t type = 0;
    r.GetU8(&priority);
    r.GetString(kMaxEventText, &e.text);
    r.GetString(kMaxEventCommand, &e.command);
    r.GetString(kMaxEventPath, &e.path);
    r.GetU64(&bytes);
    r.GetU64(&usec);
    r.GetString(kMaxEventResult, &e.result);
    r.GetU8(&type);
    r.GetString(kMaxEventPath, &e.target);
    CHECK(r.Finish());
    e.priority = priority;
    e.bytes = static_cast<std::int64_t>(bytes);
    e.type = static_cast<char>(type);
    events_.push_back(std::move(e));
    return true;
  }

  bool ReadLine(std::string* line) {
    while (true) {
      std::size_t end = pending_.find("\r\n");
      if (end != std::string::npos) {
        *line = pending_.substr(0, end);
        pending_.erase(0, end + 2);
        return true;
      }
      CHECK_OR_RETURN(Readable(client_.get()), false);
      char buf[4096];
      ssize_t n = recv(client_.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return false;
      pending_.append(buf, static_cast<std::size_t>(n));
    }
  }

  Tree tree_;
  Config config_;
  SessionInfo info_;
  SessionUser user_ = LocalUser();  // alice, a local user chrooted into the tree
  UniqueFd monitor_;  // the fake monitor's end of the channel
  UniqueFd client_;   // the FTP client's end of the control connection
  pid_t pid_ = -1;
  Reply greeting_;
  std::string pending_;  // control connection bytes read past the last line
  std::vector<Event> events_;
};

// ---- navigation ----

TEST_CASE("PWD, CWD and CDUP move through the tree, and nothing climbs above \"/\"") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  Reply r = f.Command("PWD");
  CHECK(r.code == 257);
  CHECK(r.text == "\"/\" is the current directory");
  CHECK(f.Command("CWD pub").code == 250);
  CHECK(f.Command("CWD sub").code == 250);
  CHECK(f.Command("PWD").text == "\"/pub/sub\" is the current directory");
  CHECK(f.Command("CDUP").code == 250);
  CHECK(f.Command("PWD").text == "\"/pub\" is the current directory");
  // A missing directory, or a file, is no place to go: the directory stays.
  r = f.Command("CWD nowhere");
  CHECK(r.code == 550);
  CHECK(r.text == "Failed to change directory.");
  CHECK(f.Command("CWD a.txt").code == 550);
  CHECK(f.Command("PWD").text == "\"/pub\" is the current directory");
  // Above the top: CDUP and ".." stop at "/", which is the tree (the chroot), not the host's.
  CHECK(f.Command("CDUP").code == 250);
  CHECK(f.Command("CDUP").code == 250);
  CHECK(f.Command("PWD").text == "\"/\" is the current directory");
  CHECK(f.Command("CWD ../../..").code == 250);
  CHECK(f.Command("PWD").text == "\"/\" is the current directory");
  CHECK(f.Command("CWD /../pub/../../full").code == 250);
  CHECK(f.Command("PWD").text == "\"/full\" is the current directory");
  CHECK(f.Command("SIZE keep.txt").text == "5");
  CHECK(f.Command("CWD /tmp").code == 550);  // the host's /tmp is not in the tree
}

// ---- changing the disk ----

TEST_CASE("With write_enable=YES, MKD, RMD, DELE and RNFR+RNTO change the disk and are logged") {
  Fixture f("write_enable=YES\n");
  CHECK_OR_RETURN(f.ok());
  Reply r = f.Command("MKD newdir");
  CHECK(r.code == 257);
  CHECK(r.text == "\"/newdir\" created");
  struct stat st;
  CHECK(stat(f.tree().Path("newdir").c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK(st.st_uid == kUser);  // made by the session's user, not by root
  CHECK(f.OnlyEvent("MKD").path == "/newdir");
  CHECK(f.Command("MKD newdir").code == 550);  // already there

  r = f.Command("RMD newdir");
  CHECK(r.code == 250);
  CHECK_FALSE(f.tree().Exists("newdir"));
  Event e = f.OnlyEvent("RMD");
  CHECK(e.path == "/newdir");
  CHECK(e.result == "ok");
  r = f.Command("RMD full");  // not empty
  CHECK(r.code == 550);
  CHECK(r.text == "Remove directory operation failed.");
  CHECK(f.tree().Contents("full/keep.txt") == "kept\n");

  CHECK(f.Command("CWD pub").code == 250);
  r = f.Command("DELE a.txt");
  CHECK(r.code == 250);
  CHECK_FALSE(f.tree().Exists("pub/a.txt"));
  CHECK(f.OnlyEvent("DELE").path == "/pub/a.txt");
  CHECK(f.Command("DELE a.txt").code == 550);

  CHECK(f.Command("RNTO x").code == 503);  // RNFR first
  CHECK(f.Command("RNFR /hello.txt").code == 350);
  r = f.Command("RNTO sub/moved.txt");
  CHECK(r.code == 250);
  CHECK_FALSE(f.tree().Exists("hello.txt"));
  CHECK(f.tree().Contents("pub/sub/moved.txt") == "hello\nworld\n");
  const Event rename = f.OnlyEvent("RNTO");
  CHECK(rename.path == "/hello.txt");
  CHECK(rename.target == "/pub/sub/moved.txt");
  CHECK(f.Command("RNFR nothing-here").code == 550);
  const Event failed = f.OnlyEvent("RNFR");
  CHECK(failed.path == "/pub/nothing-here");
  CHECK(failed.result == "failed");
}

TEST_CASE("With write_enable=NO, every command that would change the disk gets 550") {
  Fixture f;  // write_enable=NO is the default
  CHECK_OR_RETURN(f.ok());
  const std::vector<std::string> before = f.tree().Names("");
  for (const char* cmd : {"MKD newdir", "RMD empty", "DELE hello.txt", "RNFR hello.txt",
                          "SITE CHMOD 777 hello.txt"}) {
    Reply r = f.Command(cmd);
    CHECK_MESSAGE(r.code == 550, cmd);
  }
  // An upload is refused before any data connection is asked for.
  CHECK(f.EnterPassive());
  Reply r = f.Command("STOR hello.txt");
  CHECK(r.code == 550);
  CHECK(r.text == "Permission denied.");
  CHECK(f.tree().Names("") == before);
  CHECK(f.tree().Contents("hello.txt") == "hello\nworld\n");
  // Each refusal is logged, the upload as a transfer of 0 bytes (SITE CHMOD is refused before
  // it names a file).
  std::vector<std::string> logged;
  for (const Event& e : f.TakeEvents()) {
    CHECK(e.result == "refused");
    logged.push_back(e.command + " " + e.path + " " + std::to_string(e.bytes));
  }
  CHECK(logged == std::vector<std::string>{"MKD /newdir -1", "RMD /empty -1", "DELE /hello.txt -1",
                                           "RNFR /hello.txt -1", "STOR /hello.txt 0"});
}

// ---- file facts ----

TEST_CASE("SIZE and MDTM give a regular file's size and UTC modification time, else 550") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  Reply r = f.Command("SIZE hello.txt");
  CHECK(r.code == 213);
  CHECK(r.text == "12");
  CHECK(f.Command("SIZE /big.bin").text == std::to_string(4 << 20));
  r = f.Command("MDTM pub/a.txt");
  CHECK(r.code == 213);
  CHECK(r.text == "20210203040506");
  CHECK(f.Command("SIZE pub").code == 550);  // a directory has no size here
  CHECK(f.Command("SIZE missing.txt").code == 550);
  CHECK(f.Command("MDTM missing.txt").code == 550);
}

TEST_CASE("HASH gives the file's digest, computed in the jail without asking the monitor") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  Reply r = f.Command("HASH hello.txt");
  CHECK(r.code == 213);
  CHECK(r.text ==
        "SHA-256 0-11 4a1e67f2fe1d1cc7b31d0ca2ec441da4778203a036a77da10344c85e24ff0f92 hello.txt");
  CHECK(f.Command("OPTS HASH MD5").code == 200);
  CHECK(f.Command("HASH pub/a.txt").text == "MD5 0-4 2c1743a391305fbf367df8e4f069f9f9 pub/a.txt");
  CHECK(f.Command("OPTS HASH CRC32").code == 200);
  CHECK(f.Command("HASH /pub/a.txt").text == "CRC32 0-4 d0e0396a /pub/a.txt");
  // What RETR could not read, HASH cannot either.
  for (const char* cmd : {"HASH pub", "HASH missing.txt", "HASH secret.deny"}) {
    CHECK_MESSAGE(f.Command(cmd).code == 550, cmd);
  }
  CHECK(f.TakeEvents().empty());
  CHECK(NothingWaiting(f.monitor()));  // no request: the monitor has no part in HASH
}

// ---- listings ----

TEST_CASE("LIST, NLST and MLSD send a directory's entries, without dot files or hide_file names") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  Fixture::Download d = f.Get("NLST pub");
  CHECK(d.opening.code == 150);
  CHECK(d.opening.text == "Here comes the directory listing.");
  CHECK(d.complete);
  CHECK(d.data == "pub/a.txt\r\npub/b.bin\r\npub/sub\r\n");
  CHECK(d.final.code == 226);
  CHECK(d.final.text == "Directory send OK.");

  CHECK(f.Command("CWD pub").code == 250);
  d = f.Get("NLST");
  CHECK(d.data == "a.txt\r\nb.bin\r\nsub\r\n");
  CHECK(d.final.code == 226);

  d = f.Get("LIST");
  CHECK(d.final.code == 226);
  std::vector<std::string> lines = SplitLines(d.data);
  CHECK_OR_RETURN(lines.size() == 3);
  CHECK(lines[0] == "-rw-r--r--    1 65534    65534           5 Feb 03  2021 a.txt");
  CHECK(lines[1].rfind("-rw-r--r--    1 65534    65534         260 ", 0) == 0);
  CHECK(lines[1].substr(lines[1].size() - 6) == " b.bin");
  CHECK(lines[2].rfind("drwxr-xr-x    2 65534    65534 ", 0) == 0);
  CHECK(lines[2].substr(lines[2].size() - 4) == " sub");
  // -a shows dot files, never hide_file names.
  d = f.Get("LIST -a");
  CHECK(Contains(d.data, " .dot\r\n"));
  CHECK_FALSE(Contains(d.data, "c.hide"));

  d = f.Get("MLSD");
  CHECK(d.final.code == 226);
  lines = SplitLines(d.data);
  CHECK_OR_RETURN(lines.size() == 3);
  CHECK(lines[0].rfind("type=file;size=5;modify=20210203040506;perm=r;unix.mode=0644;", 0) == 0);
  CHECK(lines[0].substr(lines[0].size() - 6) == " a.txt");
  CHECK(lines[2].rfind("type=dir;", 0) == 0);
  CHECK(lines[2].substr(lines[2].size() - 4) == " sub");
  CHECK_FALSE(Contains(d.data, "c.hide"));
  // hide_file hides a name from listings only: the file itself can still be fetched.
  CHECK(f.Command("SIZE c.hide").text == "7");
}

TEST_CASE("deny_file makes a name unreachable: RETR, SIZE, CWD, DELE and LIST of it get 550") {
  Fixture f("write_enable=YES\n");
  CHECK_OR_RETURN(f.ok());
  CHECK(f.Command("SIZE secret.deny").code == 550);
  CHECK(f.Command("MDTM /pub/../secret.deny").code == 550);
  CHECK(f.Command("CWD secret.deny").code == 550);
  CHECK(f.Command("DELE secret.deny").code == 550);
  CHECK(f.Command("RNFR secret.deny").code == 550);
  CHECK(f.EnterPassive());
  Reply r = f.Command("RETR secret.deny");
  CHECK(r.code == 550);
  CHECK(r.text == "Permission denied.");
  CHECK(f.OnlyEvent("RETR").result == "refused");
  CHECK(NothingWaiting(f.monitor()));  // no data connection was asked for
  CHECK(f.EnterPassive());
  CHECK(f.Command("LIST secret.deny").code == 550);
  CHECK(f.tree().Contents("secret.deny") == "denied\n");
}

// ---- downloads ----

TEST_CASE("RETR in binary mode sends the file's exact bytes, and the transfer is logged") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  CHECK(f.Command("TYPE I").code == 200);
  Fixture::Download d = f.Get("RETR pub/b.bin");
  CHECK(d.opening.code == 150);
  CHECK(d.opening.text == "Opening BINARY mode data connection for b.bin (260 bytes).");
  CHECK(d.complete);
  CHECK(d.data == BinaryBytes());
  CHECK(d.final.code == 226);
  CHECK(d.final.text == "Transfer complete.");
  Event e = f.OnlyEvent("RETR");
  CHECK(e.path == "/pub/b.bin");
  CHECK(e.bytes == 260);
  CHECK(e.result == "ok");
  CHECK(e.type == 'b');

  // A large file, which cannot fit in the socket buffers at once, arrives whole too.
  d = f.Get("RETR big.bin");
  CHECK(d.complete);
  CHECK(d.data.size() == std::size_t{4} << 20);
  CHECK(d.data == Pattern(4 << 20));
  CHECK(d.final.code == 226);
  CHECK(f.OnlyEvent("RETR").bytes == 4 << 20);

  CHECK(f.EnterPassive());
  Reply r = f.Command("RETR missing.bin");
  CHECK(r.code == 550);
  CHECK(r.text == "Failed to open file.");
  CHECK(f.EnterPassive());
  CHECK(f.Command("RETR pub").code == 550);  // a directory
}

TEST_CASE("TYPE A turns LF into CRLF on RETR with ascii_download_enable, and only then") {
  {
    Fixture f("ascii_download_enable=YES\n");
    CHECK_OR_RETURN(f.ok());
    CHECK(f.Command("TYPE A").code == 200);
    Fixture::Download d = f.Get("RETR hello.txt");
    CHECK(d.opening.text == "Opening ASCII mode data connection for hello.txt (12 bytes).");
    CHECK(d.data == "hello\r\nworld\r\n");
    CHECK(d.final.code == 226);
    Event e = f.OnlyEvent("RETR");
    CHECK(e.bytes == 14);  // what crossed the data connection
    CHECK(e.type == 'a');
  }
  {
    Fixture f;  // ascii_download_enable=NO, as in vsftpd: sent as stored
    CHECK_OR_RETURN(f.ok());
    CHECK(f.Command("TYPE A").code == 200);
    Fixture::Download d = f.Get("RETR hello.txt");
    CHECK(d.data == "hello\nworld\n");
    CHECK(d.final.code == 226);
  }
}

TEST_CASE("REST makes the next RETR start at that offset, and only the next one") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  CHECK(f.Command("TYPE I").code == 200);
  Reply r = f.Command("REST 100");
  CHECK(r.code == 350);
  CHECK(r.text == "Restart position accepted (100).");
  Fixture::Download d = f.Get("RETR pub/b.bin");
  CHECK(d.data == BinaryBytes().substr(100));
  CHECK(d.final.code == 226);
  CHECK(f.OnlyEvent("RETR").bytes == 160);
  d = f.Get("RETR pub/b.bin");
  CHECK(d.data == BinaryBytes());
  CHECK(f.Command("REST x").code == 501);
}

// ---- uploads ----

TEST_CASE("STOR writes exactly the bytes sent, and the old file stays until the 226") {
  Fixture f("write_enable=YES\n");
  CHECK_OR_RETURN(f.ok());
  CHECK(f.Command("TYPE I").code == 200);
  const std::string content = Pattern(300000) + "\r\n\n";
  const std::size_t first = 65536;
  CHECK_OR_RETURN(f.EnterPassive());
  CHECK_OR_RETURN(f.SendLine("STOR old.txt"));
  UniqueFd data = f.GiveDataConnection();
  CHECK_OR_RETURN(data.valid());
  Reply r = f.ReadReply();
  CHECK(r.code == 150);
  CHECK(r.text == "Ok to send data.");
  CHECK_OR_RETURN(SendAll(data.get(), std::string_view(content).substr(0, first)));
  // Once the first part is on disk (in the hidden file), the old version is still whole, and
  // no reply has come.
  long written = -1;
  for (int i = 0; i < kWaitMs / 10 && written != static_cast<long>(first); ++i) {
    written = f.tree().UploadFileSize("");
    if (written != static_cast<long>(first)) {
      struct timespec ms = {0, 10000000};
      nanosleep(&ms, nullptr);
    }
  }
  CHECK(written == static_cast<long>(first));
  CHECK(f.tree().Contents("old.txt") == "the old version\n");
  CHECK(NothingWaiting(f.client()));
  CHECK_OR_RETURN(SendAll(data.get(), std::string_view(content).substr(first)));
  data.Reset();  // the end of the stream is the end of the file
  r = f.ReadReply();
  CHECK(r.code == 226);
  CHECK(r.text == "Transfer complete.");
  // By the 226 the new version is in place, whole, and the hidden file is gone.
  CHECK(f.tree().Contents("old.txt") == content);
  CHECK_FALSE(f.tree().HasUploadFile(""));
  struct stat st;
  CHECK(stat(f.tree().Path("old.txt").c_str(), &st) == 0);
  CHECK(st.st_uid == kUser);
  CHECK((st.st_mode & 07777) == 0600);  // file_open_mode 0666 less local_umask 077
  Event e = f.OnlyEvent("STOR");
  CHECK(e.path == "/old.txt");
  CHECK(e.bytes == static_cast<std::int64_t>(content.size()));
  CHECK(e.result == "ok");
  CHECK(e.type == 'b');

  // A new name in a subdirectory, empty.
  CHECK_OR_RETURN(f.EnterPassive());
  CHECK_OR_RETURN(f.SendLine("STOR pub/sub/new.txt"));
  data = f.GiveDataConnection();
  CHECK_OR_RETURN(data.valid());
  CHECK(f.ReadReply().code == 150);
  data.Reset();
  CHECK(f.ReadReply().code == 226);
  CHECK(f.tree().Exists("pub/sub/new.txt"));
  CHECK(f.tree().Contents("pub/sub/new.txt").empty());
}

// ---- ABOR ----

TEST_CASE("ABOR during a download stops it with 426 then 226, and the session goes on") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  Reply r = f.Command("ABOR");  // nothing to abort
  CHECK(r.code == 225);
  CHECK(r.text == "No transfer to ABOR.");
  CHECK(f.Command("TYPE I").code == 200);
  CHECK_OR_RETURN(f.EnterPassive());
  CHECK_OR_RETURN(f.SendLine("RETR big.bin"));
  UniqueFd data = f.GiveDataConnection();
  CHECK_OR_RETURN(data.valid());
  CHECK(f.ReadReply().code == 150);
  // The data is not read: the session waits on a full socket, and sees the ABOR.
  CHECK_OR_RETURN(f.SendLine("ABOR"));
  r = f.ReadReply();
  CHECK(r.code == 426);
  r = f.ReadReply();
  CHECK(r.code == 226);
  CHECK(r.text == "ABOR successful.");
  Event e = f.OnlyEvent("RETR");
  CHECK(e.result == "aborted");
  CHECK(e.bytes < 4 << 20);
  // The data connection was closed by the session.
  bool complete = false;
  std::string got = ReadToEnd(data.get(), &complete);
  CHECK(complete);
  CHECK(got.size() == static_cast<std::size_t>(e.bytes));
  CHECK(f.Command("NOOP").code == 200);
}

TEST_CASE("ABOR during an upload keeps the old file as it was and removes the partial one") {
  Fixture f("write_enable=YES\n");
  CHECK_OR_RETURN(f.ok());
  CHECK(f.Command("TYPE I").code == 200);
  CHECK_OR_RETURN(f.EnterPassive());
  CHECK_OR_RETURN(f.SendLine("STOR old.txt"));
  UniqueFd data = f.GiveDataConnection();
  CHECK_OR_RETURN(data.valid());
  CHECK(f.ReadReply().code == 150);
  CHECK_OR_RETURN(SendAll(data.get(), "a partial new version"));
  CHECK_OR_RETURN(f.SendLine("ABOR"));
  Reply r = f.ReadReply();
  CHECK(r.code == 426);
  r = f.ReadReply();
  CHECK(r.code == 226);
  CHECK(r.text == "ABOR successful.");
  CHECK(f.tree().Contents("old.txt") == "the old version\n");
  CHECK_FALSE(f.tree().HasUploadFile(""));
  CHECK(f.OnlyEvent("STOR").result == "aborted");
}

TEST_CASE("ABOR while the monitor waits for the data connection cancels the wait: 425, then 225") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  CHECK_OR_RETURN(f.EnterPassive());
  CHECK_OR_RETURN(f.SendLine("RETR hello.txt"));
  Message m;
  CHECK_OR_RETURN(f.NextRequest(&m));
  CHECK_OR_RETURN(m.type == MsgType::kDataAccept);
  // No connection came yet; the client gives up.
  CHECK_OR_RETURN(f.SendLine("ABOR"));
  CHECK_OR_RETURN(f.NextRequest(&m));
  CHECK(m.type == MsgType::kDataCancel);
  CHECK(m.body.empty());
  CHECK_OR_RETURN(SendMessage(f.monitor(), MsgType::kDataResult,
                              Fixture::DataResult(false, "Data connection cancelled."))
                      .ok());
  Reply r = f.ReadReply();
  CHECK(r.code == 425);
  CHECK(r.text == "Data connection cancelled.");
  r = f.ReadReply();  // the ABOR itself, answered by the command loop
  CHECK(r.code == 225);
  CHECK(f.Command("NOOP").code == 200);
}

// ---- data connection setup ----

TEST_CASE("PASV and EPSV announce the monitor's listener port; without one a transfer gets 425") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  // Nothing set up: the monitor is not even asked.
  Reply r = f.Command("RETR hello.txt");
  CHECK(r.code == 425);
  CHECK(r.text == "Use PORT or PASV first.");
  CHECK(NothingWaiting(f.monitor()));

  CHECK_OR_RETURN(f.SendLine("PASV"));
  Message m;
  CHECK_OR_RETURN(f.NextRequest(&m));
  CHECK(m.type == MsgType::kPasvListen);
  CHECK(SendMessage(f.monitor(), MsgType::kPasvListenResult,
                    Fixture::PasvResult(true, kPasvPort, ""))
            .ok());
  r = f.ReadReply();
  CHECK(r.code == 227);
  CHECK(r.text == "Entering Passive Mode (127,0,0,1,195,80).");  // 195 * 256 + 80 = 50000

  CHECK_OR_RETURN(f.SendLine("EPSV"));
  CHECK_OR_RETURN(f.NextRequest(&m));
  CHECK(m.type == MsgType::kPasvListen);
  CHECK(SendMessage(f.monitor(), MsgType::kPasvListenResult,
                    Fixture::PasvResult(true, 1234, ""))
            .ok());
  r = f.ReadReply();
  CHECK(r.code == 229);
  CHECK(r.text == "Entering Extended Passive Mode (|||1234|)");

  // The monitor could not listen: its reason, as a 425.
  CHECK_OR_RETURN(f.SendLine("PASV"));
  CHECK_OR_RETURN(f.NextRequest(&m));
  CHECK(SendMessage(f.monitor(), MsgType::kPasvListenResult,
                    Fixture::PasvResult(false, 0, "Could not open a passive port."))
            .ok());
  r = f.ReadReply();
  CHECK(r.code == 425);
  CHECK(r.text == "Could not open a passive port.");
}

// ---- status and session commands ----

TEST_CASE("STAT with a path lists it on the control connection; without one it reports the session") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  Reply r = f.Command("STAT pub");
  CHECK(r.code == 213);
  std::vector<std::string> lines = SplitLines(r.all);
  CHECK_OR_RETURN(lines.size() >= 2);
  CHECK(lines.front() == "213-Status follows:");
  CHECK(lines.back() == "213 End of status");
  CHECK(Contains(r.all, " a.txt\r\n"));
  CHECK(Contains(r.all, " sub\r\n"));
  CHECK(Contains(r.all, " .dot\r\n"));  // STAT lists as "ls -la"
  CHECK_FALSE(Contains(r.all, "c.hide"));
  CHECK(NothingWaiting(f.monitor()));  // no data connection

  CHECK(f.Command("TYPE I").code == 200);
  r = f.Command("STAT");
  CHECK(r.code == 211);
  CHECK(r.text == "End of status");
  CHECK(Contains(r.all, "211-FTP server status:\r\n"));
  CHECK(Contains(r.all, "Connected to 127.0.0.1\r\n"));
  CHECK(Contains(r.all, "TYPE: BINARY\r\n"));
  CHECK(f.Command("STAT missing").code == 550);
}

// It named the ftp_username account whoever was logged in; vsftpd names the user.
TEST_CASE("STAT names the user who is logged in, and says what TLS protects") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  Reply r = f.Command("STAT");
  CHECK(r.code == 211);
  CHECK(Contains(r.all, "Logged in as alice\r\n"));
  CHECK(Contains(r.all, "Control connection is plain text\r\n"));
  CHECK(Contains(r.all, "Data connections will be plain text\r\n"));
}

TEST_CASE("NOOP, SYST and TYPE answer; unknown commands get 500, missing arguments 501") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  CHECK(f.Command("NOOP").code == 200);
  Reply r = f.Command("SYST");
  CHECK(r.code == 215);
  CHECK(r.text == "UNIX Type: L8");
  r = f.Command("FROB x");
  CHECK(r.code == 500);
  CHECK(r.text == "Unknown command.");
  r = f.Command("RETR");
  CHECK(r.code == 501);
  CHECK(r.text == "RETR needs an argument.");
  CHECK(f.Command("TYPE Q").code != 200);
  CHECK(f.Command("USER bob").code == 530);
  CHECK(f.Command("PWD").code == 257);  // still serving
}

TEST_CASE("QUIT gets 221, the control connection ends and the session exits with status 0") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  Reply r = f.Command("QUIT");
  CHECK(r.code == 221);
  CHECK(r.text == "Goodbye.");
  bool complete = false;
  CHECK(ReadToEnd(f.client(), &complete).empty());
  CHECK(complete);
  int status = -1;
  CHECK_OR_RETURN(f.WaitExit(&status));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("The client closing the control connection ends the session") {
  Fixture f;
  CHECK_OR_RETURN(f.ok());
  CHECK(f.Command("NOOP").code == 200);
  CHECK(shutdown(f.client(), SHUT_WR) == 0);
  int status = -1;
  CHECK_OR_RETURN(f.WaitExit(&status));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace keepftpd
