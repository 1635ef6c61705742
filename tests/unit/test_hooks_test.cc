// Tests for src/jail/test_hooks.cc: in a test build (meson -Dtest_hooks=true), each hidden
// command makes a jail misbehave exactly as the privilege audit expects (one forbidden request
// on the channel, or the ptrace call no seccomp policy allows) and then waits for the monitor to
// end it; any other command is left to the dialogue. In a release build TestHook is always false.
#include "test_hooks.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "build_config.h"
#include "ftp_command.h"
#include "ipc.h"
#include "ipc_messages.h"
#include "strutil.h"
#include "test_support.h"
#include "unique_fd.h"
#include "wire.h"

namespace keepftpd {
namespace {

struct Channel {
  UniqueFd monitor_end;
  UniqueFd jail_end;
  Channel() { CHECK_OR_RETURN(MakeChannel(&monitor_end, &jail_end).ok()); }
};

// True when no message is waiting on channel.
bool NothingWaiting(int channel) {
  char byte;
  return recv(channel, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

// Tries a command in this process. The monitor end is shut for writing first, as by a monitor
// that has done with the jail, so that a hook, which waits for the monitor, returns at once.
bool NotAHook(std::string_view line, bool logged_in) {
  Channel c;
  CHECK_OR_RETURN(c.jail_end.valid(), false);
  CHECK_OR_RETURN(shutdown(c.monitor_end.get(), SHUT_WR) == 0, false);
  const bool hook = TestHook(ParseCommandLine(line), c.jail_end.get(), logged_in);
  CHECK_MESSAGE(NothingWaiting(c.monitor_end.get()), line);
  return !hook;
}

TEST_CASE("a command that is not a test hook is left to the dialogue and sends the monitor "
          "nothing") {
  for (bool logged_in : {false, true}) {
    CAPTURE(logged_in);
    for (const char* line : {"NOOP", "USER anonymous", "PASS x", "XKFTPDREQUEST",
                             "XKFTPDREQUEST bogus", "XKFTPDREQUEST PHASE", "XKFTPDREQUESTS phase",
                             "XKFTPD", "SITE XKFTPDFORBIDDEN"}) {
      CAPTURE(line);
      CHECK(NotAHook(line, logged_in));
    }
  }
}

#if KEEPFTPD_TEST_HOOKS

constexpr int kWaitMs = 5000;  // bound on every wait: a bug fails the test, never hangs it

bool WaitReadable(int fd) {
  pollfd p = {fd, POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, kWaitMs);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

// What a hook did in a jail: the message the monitor end received, whether TestHook returned
// true once the monitor had closed the channel, and the jail's TracerPid afterwards.
struct HookRun {
  bool received = false;
  Message message;
  bool more_messages = false;  // a second message followed the first
  bool returned_true = false;
  long tracer_pid = -1;
};

long TracerPid() {
  std::ifstream status("/proc/self/status");
  std::string word;
  while (status >> word) {
    if (word == "TracerPid:") {
      long pid = -1;
      status >> pid;
      return pid;
    }
  }
  return -1;
}

// Runs TestHook in a forked child playing the jail; the test is its monitor and, as the real
// monitor does after a refused request, ends the channel. The child reports on a pipe and is
// reaped (killed first if it is still there) in every path.
HookRun RunHook(std::string_view line, bool logged_in) {
  HookRun run;
  Channel c;
  int p[2];
  CHECK_OR_RETURN(c.jail_end.valid(), run);
  CHECK_OR_RETURN(pipe2(p, O_CLOEXEC) == 0, run);
  UniqueFd report_read(p[0]), report_write(p[1]);
  pid_t pid = fork();
  CHECK_OR_RETURN(pid >= 0, run);
  if (pid == 0) {
    c.monitor_end.Reset();
    report_read.Reset();
    const bool hook = TestHook(ParseCommandLine(line), c.jail_end.get(), logged_in);
    const std::string report = (hook ? "1 " : "0 ") + std::to_string(TracerPid());
    _exit(write(report_write.get(), report.data(), report.size()) ==
                  static_cast<ssize_t>(report.size())
              ? 0
              : 1);
  }
  report_write.Reset();
  c.jail_end.Reset();
  struct Reap {
    pid_t pid;
    ~Reap() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } reap{pid};

  std::string error;
  if (WaitReadable(c.monitor_end.get()) &&
      ReceiveMessage(c.monitor_end.get(), &run.message, &error) == ReceiveOutcome::kMessage) {
    run.received = true;
    run.more_messages = !NothingWaiting(c.monitor_end.get());
  }
  c.monitor_end.Reset();  // the monitor ends the connection
  std::string report;
  char buf[64];
  ssize_t n;
  while (WaitReadable(report_read.get()) && (n = read(report_read.get(), buf, sizeof(buf))) > 0) {
    report.append(buf, static_cast<std::size_t>(n));
  }
  run.returned_true = StartsWith(report, "1 ");
  if (report.size() > 2) run.tracer_pid = std::strtol(report.c_str() + 2, nullptr, 10);
  return run;
}

// A LOG request's body: priority and text, and whether bytes follow them.
struct LogBody {
  bool decoded = false;
  bool trailing = false;
  std::uint8_t priority = 0;
  std::string text;
};
LogBody DecodeLog(const std::string& body, std::size_t max_text) {
  LogBody out;
  WireReader r(body);
  out.decoded = r.GetU8(&out.priority) && r.GetString(max_text, &out.text);
  out.trailing = out.decoded && !r.Finish();
  return out;
}

TEST_CASE("XKFTPDREQUEST phase before login sends PASV_LISTEN, a request of the logged-in phase") {
  HookRun run = RunHook("XKFTPDREQUEST phase", false);
  CHECK_OR_RETURN(run.received);
  CHECK(run.message.type == MsgType::kPasvListen);
  CHECK(run.message.body.empty());
  CHECK_FALSE(run.message.fd.valid());
  CHECK_FALSE(run.more_messages);
  CHECK(run.returned_true);
}

TEST_CASE("XKFTPDREQUEST phase after login sends LOGIN, a request of the pre-login phase") {
  HookRun run = RunHook("XKFTPDREQUEST phase", true);
  CHECK_OR_RETURN(run.received);
  CHECK(run.message.type == MsgType::kLogin);
  CHECK_FALSE(run.message.fd.valid());
  WireReader r(run.message.body);
  std::string user, password;
  CHECK(r.GetString(kMaxUserName, &user));
  CHECK(r.GetString(kMaxPassword, &password));
  CHECK(user == "anonymous");
  CHECK(password == "x");
  CHECK_FALSE(run.more_messages);
  CHECK(run.returned_true);
}

// Were the LOGIN incomplete, the monitor would refuse it as malformed even without its phase
// check, and the privilege audit could not tell the two apart.
TEST_CASE("XKFTPDREQUEST phase after login sends a LOGIN complete in every field, so that only "
          "its phase is wrong") {
  HookRun run = RunHook("XKFTPDREQUEST phase", true);
  CHECK_OR_RETURN(run.received);
  WireReader r(run.message.body);
  std::string user, password;
  std::uint8_t prot_private = 9;
  r.GetString(kMaxUserName, &user);
  r.GetString(kMaxPassword, &password);
  r.GetU8(&prot_private);
  CHECK(r.Finish());
  CHECK(prot_private <= 1);
}

TEST_CASE("XKFTPDREQUEST oversized sends a LOG whose text is one byte over the limit") {
  HookRun run = RunHook("XKFTPDREQUEST oversized", false);
  CHECK_OR_RETURN(run.received);
  CHECK(run.message.type == MsgType::kLog);
  CHECK_FALSE(run.message.fd.valid());
  CHECK(run.message.body.size() == 1 + 2 + kMaxLogText + 1);
  CHECK_FALSE(DecodeLog(run.message.body, kMaxLogText).decoded);  // what the monitor does
  LogBody log = DecodeLog(run.message.body, kMaxLogText + 1);
  CHECK(log.decoded);
  CHECK_FALSE(log.trailing);
  CHECK(log.text == std::string(kMaxLogText + 1, 'x'));
  CHECK_FALSE(run.more_messages);
  CHECK(run.returned_true);
}

TEST_CASE("XKFTPDREQUEST fd sends a well-formed LOG that carries a descriptor") {
  HookRun run = RunHook("XKFTPDREQUEST fd", false);
  CHECK_OR_RETURN(run.received);
  CHECK(run.message.type == MsgType::kLog);
  CHECK(run.message.fd.valid());
  CHECK_FALSE(MessageCarriesFd(MsgType::kLog));
  LogBody log = DecodeLog(run.message.body, kMaxLogText);
  CHECK(log.decoded);
  CHECK_FALSE(log.trailing);
  CHECK(log.text == "with a descriptor");
  CHECK_FALSE(run.more_messages);
  CHECK(run.returned_true);
}

TEST_CASE("XKFTPDREQUEST malformed sends a LOG with one byte after its text") {
  HookRun run = RunHook("XKFTPDREQUEST malformed", false);
  CHECK_OR_RETURN(run.received);
  CHECK(run.message.type == MsgType::kLog);
  CHECK_FALSE(run.message.fd.valid());
  LogBody log = DecodeLog(run.message.body, kMaxLogText);
  CHECK(log.decoded);
  CHECK(log.trailing);
  CHECK(log.text == "trailing bytes follow");
  CHECK(run.message.body.size() == 1 + 2 + log.text.size() + 1);
  CHECK_FALSE(run.more_messages);
  CHECK(run.returned_true);
}

TEST_CASE("XKFTPDREQUEST unknown sends a message of a type that does not exist") {
  HookRun run = RunHook("XKFTPDREQUEST unknown", true);
  CHECK_OR_RETURN(run.received);
  CHECK(std::string_view(MsgTypeName(run.message.type)) == "UNKNOWN");
  CHECK(run.message.body.empty());
  CHECK_FALSE(run.message.fd.valid());
  CHECK_FALSE(run.more_messages);
  CHECK(run.returned_true);
}

TEST_CASE("XKFTPDREQUEST linger closes the channel without a message and keeps the process") {
  for (bool logged_in : {false, true}) {
    CAPTURE(logged_in);
    Channel c;
    CHECK_OR_RETURN(c.jail_end.valid());
    pid_t pid = fork();
    CHECK_OR_RETURN(pid >= 0);
    if (pid == 0) {
      c.monitor_end.Reset();
      TestHook(ParseCommandLine("XKFTPDREQUEST linger"), c.jail_end.get(), logged_in);
      _exit(1);  // not reached: the hook sleeps, then exits 0
    }
    c.jail_end.Reset();
    char byte;
    CHECK(WaitReadable(c.monitor_end.get()));
    CHECK(recv(c.monitor_end.get(), &byte, 1, 0) == 0);  // the end of the channel, no message
    CHECK(waitpid(pid, nullptr, WNOHANG) == 0);           // and the process still there
    kill(pid, SIGKILL);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  }
}

TEST_CASE("XKFTPDFORBIDDEN makes the ptrace call, which a jail without a filter survives") {
  HookRun run = RunHook("XKFTPDFORBIDDEN", false);
  CHECK_FALSE(run.received);  // nothing for the monitor: the filter's SIGSYS handler reports it
  CHECK(run.returned_true);
  CHECK(run.tracer_pid == getpid());  // PTRACE_TRACEME made this process its tracer
}

#else  // a release build

TEST_CASE("a release build has no test hooks") {
  for (bool logged_in : {false, true}) {
    for (const char* line : {"XKFTPDFORBIDDEN", "XKFTPDREQUEST phase", "XKFTPDREQUEST oversized",
                             "XKFTPDREQUEST fd", "XKFTPDREQUEST malformed",
                             "XKFTPDREQUEST unknown", "XKFTPDREQUEST linger"}) {
      CAPTURE(line);
      CHECK(NotAHook(line, logged_in));
    }
  }
}

#endif

}  // namespace
}  // namespace keepftpd
