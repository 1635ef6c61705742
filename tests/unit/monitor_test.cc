// Tests for src/monitor/monitor.cc: RunMonitor, the privileged monitor of one connection, as an
// FTP client and an administrator see it through the real jails it starts. Each case forks a
// child (its own process group, a private mount namespace in which /run/systemd/journal is an
// empty tmpfs, so nothing reaches the host's journal) that calls RunMonitor as the entry process
// does; the test is the client on the other end of a socketpair standing in for the control
// connection, reads the monitor's log from the child's stderr (or, where priorities matter, from
// a journal socket of its own), and checks that every process of the connection is gone.
// Needs root (chroot, setuid, namespaces) and a test build (-Dtest_hooks=true) for the hooks.
#include "monitor.h"

#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "build_config.h"
#include "config.h"
#include "log.h"
#include "session.h"
#include "sockaddr.h"
#include "test_support.h"
#include "unique_fd.h"

namespace keepftpd {
namespace {

constexpr uid_t kNobody = 65534;  // nopriv_user and ftp_username: "nobody"
constexpr int kWaitMs = 10000;    // the longest any single wait lasts: a bug fails, never hangs
constexpr std::uint16_t kPeerPort = 40001;
constexpr const char* kSessionId = "0123456789abcdef0123456789abcdef";
constexpr const char* kBanner = "monitor test banner";

bool Contains(std::string_view s, std::string_view part) { return s.find(part) != s.npos; }

bool Readable(int fd, int ms = kWaitMs) {
  pollfd p = {fd, POLLIN, 0};
  int n;
  do {
    n = poll(&p, 1, ms);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

void SleepMs(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
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

// A directory under /tmp (mode 0755, root's), removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    char path[] = "/tmp/keepftpd-monitor-test-XXXXXX";
    CHECK_OR_RETURN(mkdtemp(path) != nullptr);
    path_ = path;
    CHECK(chmod(path, 0755) == 0);
  }
  ~TempDir() {
    if (!path_.empty()) nftw(path_.c_str(), RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Path(std::string_view rel) const { return path_ + "/" + std::string(rel); }

 private:
  static int RemoveOne(const char* path, const struct stat*, int, struct FTW*) {
    remove(path);
    return 0;
  }
  std::string path_;
};

// One reply as the client reads it: its code (0 when none came) and all its lines.
struct Reply {
  int code = 0;
  std::string all;
};

// One record the monitor sent to the fake journal.
struct JournalRecord {
  std::string message, priority, source, process;
};

// The journal's native protocol as sd_journal_send writes it: "FIELD=value\n" per field (the
// monitor's texts are sanitised, so none needs the binary form).
JournalRecord ParseJournal(std::string_view datagram) {
  JournalRecord r;
  while (!datagram.empty()) {
    std::size_t end = datagram.find('\n');
    std::string_view line = datagram.substr(0, end);
    datagram.remove_prefix(end == datagram.npos ? datagram.size() : end + 1);
    std::size_t eq = line.find('=');
    if (eq == line.npos) continue;
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "MESSAGE") r.message = value;
    if (key == "PRIORITY") r.priority = value;
    if (key == "FTP_SOURCE") r.source = value;
    if (key == "FTP_PROCESS") r.process = value;
  }
  return r;
}

// In the monitor's child, before RunMonitor: a private mount namespace in which
// /run/systemd/journal is a fresh tmpfs directory, empty (the log goes to stderr) or holding a
// link to the test's own journal socket. The host's journal never gets a record.
bool HideHostJournal(const std::string& fake_socket) {
  if (unshare(CLONE_NEWNS) != 0) return false;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  struct stat st;
  const bool have_systemd = stat("/run/systemd", &st) == 0;
  const char* top = have_systemd ? "/run/systemd" : "/run";
  if (mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") != 0) {
    return false;
  }
  if (!have_systemd && mkdir("/run/systemd", 0755) != 0) return false;
  if (mkdir("/run/systemd/journal", 0755) != 0) return false;
  if (!fake_socket.empty() && symlink(fake_socket.c_str(), "/run/systemd/journal/socket") != 0) {
    return false;
  }
  return true;
}

struct Options {
  std::string extra_config;              // appended to the base configuration
  std::vector<std::string> banned_emails;  // SessionInfo::banned_emails (deny_email_enable)
  bool journal = false;                  // log to the test's journal socket instead of stderr
};

// One connection: the anonymous tree, the empty secure_chroot_dir, login_state_dir, the monitor
// (a child in its own process group, running RunMonitor) and the test's end of the control
// connection. The destructor kills whatever is left of the connection, reaps it and removes
// the directories, whatever the checks said.
//
// The anonymous tree (anon_root): welcome.txt and pub/notes.txt, all root's and read-only to
// the session's user. The configuration: anonymous only, seccomp on, namespaces as the defaults
// say, no failure delay, then extra_config.
class Connection {
 public:
  explicit Connection(const Options& options = Options()) {
    // Orphans of the connection (a jail whose monitor died) come to this process, so that the
    // test can see every one of them gone and reap it.
    CHECK_OR_RETURN(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    CHECK_OR_RETURN(MakeTree());
    CHECK_OR_RETURN(chmod(state_.path().c_str(), 0700) == 0);
    std::vector<ConfigError> errors;
    const std::string text = "anonymous_enable=YES\nlocal_enable=NO\nseccomp_sandbox=YES\n"
                             "ftpd_banner=" + std::string(kBanner) + "\n"
                             "anon_root=" + anon_.path() + "\n"
                             "secure_chroot_dir=" + empty_.path() + "\n"
                             "login_state_dir=" + state_.path() + "\n"
                             "delay_failed_login=0\n" + options.extra_config;
    config_ = ParseConfig(text, "test.conf", &errors);
    for (const ConfigError& e : errors) FAIL_CHECK(e.ToString());
    CHECK_OR_RETURN(errors.empty());

    SessionInfo session;
    session.peer = SockAddr::FromHostString("127.0.0.1", kPeerPort).value();
    session.local = SockAddr::FromHostString("127.0.0.1", 2121).value();
    session.session_id = kSessionId;
    for (Account* a : {&session.nopriv, &session.anonymous}) {
      a->name = "nobody";
      a->uid = kNobody;
      a->gid = kNobody;
      a->home = "/nonexistent";
    }
    session.anon_root = anon_.path();
    session.banned_emails = options.banned_emails;

    std::string journal_path;
    if (options.journal) {
      journal_path = journal_dir_.Path("socket");
      journal_.Reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      CHECK_OR_RETURN(journal_.valid());
      sockaddr_un addr = {};
      addr.sun_family = AF_UNIX;
      CHECK_OR_RETURN(journal_path.size() < sizeof(addr.sun_path));
      std::memcpy(addr.sun_path, journal_path.c_str(), journal_path.size() + 1);
      CHECK_OR_RETURN(bind(journal_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
      // As journald's: the session's monitor, the session user's uid by then, writes to it too.
      CHECK_OR_RETURN(chmod(journal_path.c_str(), 0666) == 0);
    }
    int fds[2];
    CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    UniqueFd server(fds[0]);
    client_.Reset(fds[1]);
    CHECK_OR_RETURN(pipe2(fds, O_CLOEXEC) == 0);
    log_.Reset(fds[0]);
    UniqueFd log_write(fds[1]);
    CHECK_OR_RETURN(fcntl(log_.get(), F_SETFL, O_NONBLOCK) == 0);
    session.control_fd = server.get();

    pid_ = fork();
    CHECK_OR_RETURN(pid_ >= 0);
    if (pid_ == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (dup2(log_write.get(), 2) != 2) _exit(120);
      // None of the test's ends stays open in the connection's processes.
      client_.Reset();
      log_.Reset();
      journal_.Reset();
      log_write.Reset();
      if (!HideHostJournal(journal_path)) {
        dprintf(2, "monitor_test: could not hide the host's journal: %s\n", std::strerror(errno));
        _exit(121);
      }
      UseMonitorLogSink(true);
      LogContext& ctx = MonitorLogContext();
      ctx.session_id = kSessionId;
      ctx.remote_addr = "127.0.0.1";
      ctx.remote_port = std::to_string(kPeerPort);
      RunMonitor(config_, session);
    }
    setpgid(pid_, pid_);  // whichever runs first: the group exists before it is signalled
    group_ = pid_;
    server.Reset();
    log_write.Reset();
    greeting_ = ReadReply();
    CHECK_MESSAGE(greeting_.code == 220, "greeting: ", greeting_.all, " log: ", Log());
  }

  ~Connection() {
    client_.Reset();
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    // Whatever is left (the jails, orphaned to this subreaper) is in the group: end and reap it.
    for (int i = 0; i < kWaitMs / 10; ++i) {
      int r = waitpid(-1, nullptr, WNOHANG);
      if (r < 0 && errno == ECHILD) break;
      if (r == 0) {
        if (group_ > 0 && i % 10 == 0) kill(-group_, SIGKILL);
        SleepMs(10);
      }
    }
    // Sanitizer builds: a report from a monitor process (the jails have no stderr) fails.
    const std::string log = Log();
    CHECK_MESSAGE(!Contains(log, "runtime error:"), log);
    CHECK_MESSAGE(!Contains(log, "Sanitizer"), log);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool started() const { return pid_ > 0 && greeting_.code == 220; }
  const Reply& greeting() const { return greeting_; }

  // The client leaves: its end of the control connection closes.
  void Hangup() { client_.Reset(); }

  bool Send(std::string_view line) { return SendAll(client_.get(), std::string(line) + "\r\n"); }

  // One reply, single or multi-line; code 0 when none came within kWaitMs.
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
    return r;
  }

  Reply Command(std::string_view line) {
    if (!Send(line)) return Reply();
    return ReadReply();
  }

  bool LogIn(std::string_view password = "test@example.org") {
    CHECK_OR_RETURN(Command("USER anonymous").code == 331, false);
    Reply r = Command("PASS " + std::string(password));
    CHECK_MESSAGE(r.code == 230, r.all, " log: ", Log());
    return r.code == 230;
  }

  // Whether the server closed the control connection (end of stream) within kWaitMs; what came
  // before the end is kept in rest().
  bool Closed() {
    char buf[4096];
    for (int i = 0; i < 64; ++i) {
      if (!Readable(client_.get())) return false;
      ssize_t n = recv(client_.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0) return true;
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) return errno == ECONNRESET;
      pending_.append(buf, static_cast<std::size_t>(n));
    }
    return false;
  }
  const std::string& rest() const { return pending_; }

  // The monitor's exit status, once it exited by itself within kWaitMs; -1 otherwise.
  int WaitExit() {
    for (int i = 0; i < kWaitMs / 10 && pid_ > 0; ++i) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      SleepMs(10);
    }
    return -1;
  }

  // True when, the monitor reaped, every other process of the connection ends by itself within
  // kWaitMs (each orphan comes to this subreaper and is reaped here).
  bool NoProcessLeft() {
    CHECK_OR_RETURN(pid_ < 0, false);
    for (int i = 0; i < kWaitMs / 10; ++i) {
      int r = waitpid(-1, nullptr, WNOHANG);
      if (r < 0 && errno == ECHILD) return true;
      if (r == 0) SleepMs(10);
    }
    return false;
  }

  // The monitor's log so far (stderr, or the journal records' "PRIORITY MESSAGE" lines).
  std::string Log() {
    char buf[65536];
    ssize_t n;
    while ((n = read(log_.get(), buf, sizeof(buf))) > 0) {
      log_text_.append(buf, static_cast<std::size_t>(n));
    }
    if (journal_.valid()) {
      while ((n = recv(journal_.get(), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        JournalRecord r = ParseJournal(std::string_view(buf, static_cast<std::size_t>(n)));
        journal_records_.push_back(r);
        log_text_ += r.priority + " " + r.message + "\n";
      }
    }
    return log_text_;
  }
  const std::vector<JournalRecord>& journal() {
    Log();
    return journal_records_;
  }

  // Whether part shows up in the log within kWaitMs.
  bool WaitForLog(std::string_view part) {
    for (int i = 0; i < kWaitMs / 10; ++i) {
      if (Contains(Log(), part)) return true;
      pollfd p[2] = {{log_.get(), POLLIN, 0}, {journal_.get(), POLLIN, 0}};
      poll(p, journal_.valid() ? 2 : 1, 10);
    }
    return Contains(Log(), part);
  }

  // PASV: the port the monitor's listener announced, 0 when there was none.
  std::uint16_t Passive() {
    Reply r = Command("PASV");
    CHECK_MESSAGE(r.code == 227, r.all);
    std::size_t open = r.all.find('(');
    CHECK_OR_RETURN(r.code == 227 && open != std::string::npos, 0);
    unsigned v[6] = {};
    CHECK_OR_RETURN(std::sscanf(r.all.c_str() + open, "(%u,%u,%u,%u,%u,%u)", &v[0], &v[1], &v[2],
                                &v[3], &v[4], &v[5]) == 6,
                    0);
    CHECK(v[0] == 127);
    CHECK(v[3] == 1);
    return static_cast<std::uint16_t>(v[4] * 256 + v[5]);
  }

 private:
  bool MakeTree() {
    CHECK_OR_RETURN(!anon_.path().empty() && !empty_.path().empty() && !state_.path().empty() &&
                        !journal_dir_.path().empty(),
                    false);
    CHECK_OR_RETURN(mkdir(anon_.Path("pub").c_str(), 0755) == 0, false);
    for (const char* rel : {"welcome.txt", "pub/notes.txt"}) {
      UniqueFd fd(open(anon_.Path(rel).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      CHECK_OR_RETURN(fd.valid(), false);
      CHECK_OR_RETURN(write(fd.get(), "hello\n", 6) == 6, false);
    }
    return true;
  }

  bool ReadLine(std::string* line) {
    char buf[4096];
    while (pending_.find("\r\n") == std::string::npos) {
      if (!Readable(client_.get())) return false;
      ssize_t n = recv(client_.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return false;
      pending_.append(buf, static_cast<std::size_t>(n));
    }
    std::size_t end = pending_.find("\r\n");
    *line = pending_.substr(0, end);
    pending_.erase(0, end + 2);
    return true;
  }

  TempDir anon_, empty_, state_, journal_dir_;
  Config config_;
  UniqueFd client_, log_, journal_;
  pid_t pid_ = -1;
  pid_t group_ = -1;
  Reply greeting_;
  std::string pending_;
  std::string log_text_;
  std::vector<JournalRecord> journal_records_;
};

bool Exited(int status) { return status >= 0 && WIFEXITED(status); }
bool ExitedWith(int status, int code) { return Exited(status) && WEXITSTATUS(status) == code; }

// Connects to 127.0.0.1:port, every wait on the socket bounded.
UniqueFd ConnectData(std::uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  CHECK_OR_RETURN(fd.valid(), UniqueFd());
  timeval tv = {kWaitMs / 1000, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_OR_RETURN(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0,
                  UniqueFd());
  return fd;
}

// Everything the data connection carries up to its end; *complete false when it stalled.
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

bool RunningAsRoot() {
  if (geteuid() == 0) return true;
  MESSAGE("skipped: the monitor's tests need root (chroot, setuid, namespaces)");
  return false;
}

bool HasTestHooks() {
  if (KEEPFTPD_TEST_HOOKS) return true;
  MESSAGE("skipped: needs a test build (meson -Dtest_hooks=true)");
  return false;
}

// The client sends line, the connection ends, and the monitor logs reason; every process is
// then gone. logged_in: after an anonymous login, in the session jail.
void ExpectConnectionEnds(bool logged_in, std::string_view line, std::string_view reason) {
  CAPTURE(line);
  CAPTURE(logged_in);
  Connection c;
  CHECK_OR_RETURN(c.started());
  if (logged_in) CHECK_OR_RETURN(c.LogIn());
  CHECK(c.Send(line));
  CHECK(c.Closed());
  CHECK_MESSAGE(c.WaitForLog(reason), c.Log());
  CHECK(Exited(c.WaitExit()));
  CHECK(c.NoProcessLeft());
}

TEST_CASE("an anonymous client gets the banner, logs in, is at / in the session jail, and QUIT "
          "ends the connection with every process gone") {
  if (!RunningAsRoot()) return;
  Connection c;
  CHECK_OR_RETURN(c.started());
  CHECK(c.greeting().all == "220 " + std::string(kBanner) + "\r\n");
  CHECK_OR_RETURN(c.LogIn());
  Reply pwd = c.Command("PWD");
  CHECK(pwd.code == 257);
  CHECK_MESSAGE(Contains(pwd.all, "\"/\""), pwd.all);
  CHECK(c.Command("QUIT").code == 221);
  CHECK(c.Closed());
  CHECK(ExitedWith(c.WaitExit(), 0));
  CHECK(c.NoProcessLeft());
  const std::string log = c.Log();
  CHECK_MESSAGE(Contains(log, "127.0.0.1:40001 monitor: session start"), log);
  CHECK_MESSAGE(Contains(log, "monitor: anonymous login as \"anonymous\""), log);
  CHECK_MESSAGE(Contains(log, "monitor: session end: 0 files (0 bytes) downloaded"), log);
}

TEST_CASE("PASV then LIST: the monitor accepts the client's data connection and the session jail "
          "lists the anonymous tree over it") {
  if (!RunningAsRoot()) return;
  Connection c;
  CHECK_OR_RETURN(c.started());
  CHECK_OR_RETURN(c.LogIn());
  std::uint16_t port = c.Passive();
  CHECK_OR_RETURN(port != 0);
  UniqueFd data = ConnectData(port);
  CHECK_OR_RETURN(data.valid());
  CHECK(c.Send("LIST"));
  CHECK(c.ReadReply().code == 150);
  bool complete = false;
  std::string listing = ReadToEnd(data.get(), &complete);
  CHECK(complete);
  CHECK_MESSAGE(Contains(listing, "welcome.txt"), listing);
  CHECK_MESSAGE(Contains(listing, "pub"), listing);
  CHECK(c.ReadReply().code == 226);
  data.Reset();
  CHECK(c.Command("QUIT").code == 221);
  CHECK(ExitedWith(c.WaitExit(), 0));
  CHECK(c.NoProcessLeft());
}

TEST_CASE("a login the monitor refuses gets 530 and is logged, and max_login_fails refusals end "
          "the connection") {
  if (!RunningAsRoot()) return;
  Options options;
  options.extra_config = "deny_email_enable=YES\nmax_login_fails=2\n";
  options.banned_emails = {"bad@example.org"};
  Connection c(options);
  CHECK_OR_RETURN(c.started());
  // A local name on an anonymous-only server: refused at USER, before a password is asked
  // for, and a failed login all the same, which the monitor logs and counts.
  CHECK(c.Command("USER alice").all == "530 This FTP server is anonymous only.\r\n");
  CHECK_MESSAGE(c.WaitForLog("monitor: login failed for user \"alice\" from 127.0.0.1: "
                             "not an anonymous login, and local_enable=NO"),
                c.Log());
  // A banned anonymous password: the monitor refuses it, and that second failure ends it.
  CHECK(c.Command("USER anonymous").code == 331);
  CHECK(c.Command("PASS bad@example.org").all == "530 Login incorrect.\r\n");
  CHECK(c.Closed());
  CHECK(ExitedWith(c.WaitExit(), 0));
  CHECK(c.NoProcessLeft());
  CHECK_MESSAGE(Contains(c.Log(), "too many failed logins; closing the connection"), c.Log());
}

TEST_CASE("with isolate and isolate_network (the defaults) REIN after a login gets 502 and the "
          "session goes on") {
  if (!RunningAsRoot()) return;
  Connection c;
  CHECK_OR_RETURN(c.started());
  CHECK_OR_RETURN(c.LogIn());
  Reply rein = c.Command("REIN");
  CHECK_MESSAGE(rein.code == 502, rein.all);
  CHECK(c.Command("PWD").code == 257);  // still logged in, in the same session jail
  CHECK(c.Command("QUIT").code == 221);
  CHECK(c.Closed());
  CHECK(ExitedWith(c.WaitExit(), 0));
  CHECK(c.NoProcessLeft());
  CHECK_MESSAGE(!Contains(c.Log(), "REIN: session ended"), c.Log());
}

TEST_CASE("with both namespaces off, REIN after a login gives a new 220 greeting from a new "
          "pre-login jail, and a second login works") {
  if (!RunningAsRoot()) return;
  Options options;
  options.extra_config = "isolate=NO\nisolate_network=NO\n";
  Connection c(options);
  CHECK_OR_RETURN(c.started());
  CHECK_OR_RETURN(c.LogIn());
  CHECK(c.Command("PWD").code == 257);
  Reply rein = c.Command("REIN");
  CHECK_MESSAGE(rein.code == 220, rein.all);
  CHECK(c.Command("PWD").code == 530);  // not logged in any more
  CHECK_OR_RETURN(c.LogIn("second@example.org"));
  CHECK(c.Command("PWD").code == 257);
  CHECK(c.Command("QUIT").code == 221);
  CHECK(c.Closed());
  CHECK(ExitedWith(c.WaitExit(), 0));
  CHECK(c.NoProcessLeft());
  const std::string log = c.Log();
  CHECK_MESSAGE(Contains(log, "REIN: session ended, back to the login prompt"), log);
  std::size_t logins = 0;
  for (std::size_t at = log.find("anonymous login as"); at != log.npos;
       at = log.find("anonymous login as", at + 1)) {
    ++logins;
  }
  CHECK(logins == 2);
}

TEST_CASE("the client closing the control connection ends the monitor and every jail") {
  if (!RunningAsRoot()) return;
  Connection c;
  CHECK_OR_RETURN(c.started());
  CHECK_OR_RETURN(c.LogIn());
  CHECK(c.Command("NOOP").code == 200);
  c.Hangup();
  CHECK(Exited(c.WaitExit()));
  CHECK(c.NoProcessLeft());
}

TEST_CASE("a jail's request of the wrong phase, an oversized LOG or an unknown type ends the "
          "connection, before and after login, and the log says why") {
  if (!RunningAsRoot() || !HasTestHooks()) return;
  struct Kind {
    const char* line;
    const char* reason_before;  // from the pre-login jail
    const char* reason_after;   // from the session jail
  };
  const Kind kinds[] = {
      {"XKFTPDREQUEST phase", "is not allowed in the pre-login phase",
       "is not allowed in the session phase"},
      {"XKFTPDREQUEST oversized", "bytes exceeds", "bytes exceeds"},
      {"XKFTPDREQUEST unknown", "request 77", "request 77"},
  };
  for (const Kind& k : kinds) {
    ExpectConnectionEnds(false, k.line, k.reason_before);
    ExpectConnectionEnds(true, k.line, k.reason_after);
  }
}

TEST_CASE("a session jail that asks for REINIT although REIN is refused here ends the connection, "
          "and the log says why") {
  if (!RunningAsRoot() || !HasTestHooks()) return;
  ExpectConnectionEnds(true, "XKFTPDFORGE rein", "refusing REINIT from the session jail");
}

TEST_CASE("a LOG record a jail forges is written as the jail's words, at warning priority at most, "
          "and the monitor goes on") {
  if (!RunningAsRoot() || !HasTestHooks()) return;
  Options options;
  options.journal = true;  // the priority is in journal records only
  Connection c(options);
  CHECK_OR_RETURN(c.started());
  CHECK(c.Command("XKFTPDFORGE log").code == 200);
  CHECK_OR_RETURN(c.WaitForLog("forged by a jail"));
  bool found = false;
  for (const JournalRecord& r : c.journal()) {
    if (!Contains(r.message, "forged by a jail")) continue;
    found = true;
    CAPTURE(r.message);
    // The jail's words, and the client's real address, which the monitor adds.
    CHECK(r.message ==
          "prelogin jail: login failed for user \"x\" from 192.0.2.99: forged by a jail "
          "(client 127.0.0.1)");
    CHECK(r.priority == "4");  // kLogWarning: the jail asked for 0, an emergency
    CHECK(r.source == "jail");
    CHECK(r.process == "prelogin");
  }
  CHECK(found);
  CHECK_OR_RETURN(c.LogIn());
  CHECK(c.Command("QUIT").code == 221);
  CHECK(ExitedWith(c.WaitExit(), 0));
  CHECK(c.NoProcessLeft());
  CHECK_MESSAGE(c.WaitForLog("6 session end:"), c.Log());
}

TEST_CASE("on stderr a forged LOG record is the jail's line, never one the monitor wrote itself") {
  if (!RunningAsRoot() || !HasTestHooks()) return;
  Connection c;
  CHECK_OR_RETURN(c.started());
  CHECK(c.Command("XKFTPDFORGE log").code == 200);
  CHECK_OR_RETURN(c.WaitForLog("forged by a jail"));
  const std::string log = c.Log();
  CHECK_MESSAGE(Contains(log, "127.0.0.1:40001 prelogin jail: login failed for user \"x\" from "
                              "192.0.2.99: forged by a jail\n"),
                log);
  CHECK_MESSAGE(!Contains(log, "monitor: login failed"), log);
}

TEST_CASE("transfer counts a session jail inflates stop at the largest value in the session-end "
          "record") {
  if (!RunningAsRoot() || !HasTestHooks()) return;
  Connection c;
  CHECK_OR_RETURN(c.started());
  CHECK_OR_RETURN(c.LogIn());
  CHECK(c.Command("XKFTPDFORGE bytes").code == 200);
  CHECK(c.Command("QUIT").code == 221);
  CHECK(ExitedWith(c.WaitExit(), 0));
  CHECK(c.NoProcessLeft());
  CHECK_MESSAGE(c.WaitForLog("session end: 2 files (9223372036854775807 bytes) downloaded"),
                c.Log());
}

TEST_CASE("a forbidden system call kills the jail by its seccomp filter, is logged as a seccomp "
          "violation naming the jail, and ends the connection") {
  if (!RunningAsRoot() || !HasTestHooks()) return;
  const std::string call = std::to_string(SYS_ptrace) + " (ptrace)";  // what the hook calls
  ExpectConnectionEnds(false, "XKFTPDFORBIDDEN",
                       "seccomp violation: the prelogin jail called forbidden system call " + call);
  ExpectConnectionEnds(true, "XKFTPDFORBIDDEN",
                       "seccomp violation: the session jail called forbidden system call " + call);
}

}  // namespace
}  // namespace keepftpd
