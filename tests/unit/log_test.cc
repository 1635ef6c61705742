// Tests for src/common/log.cc without journald or syslog: a jail's records and events go to the
// monitor as LOG and EVENT messages cut to their limits, Fatal() logs, runs its hook and exits
// 1, the stderr sink's line, and the vsftpd and xferlog transfer log lines.
#include "log.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "ipc.h"
#include "ipc_messages.h"
#include "strutil.h"
#include "test_support.h"
#include "unique_fd.h"
#include "wire.h"

namespace keepftpd {
namespace {

using test::ReadAll;
using test::TempFile;

// ---------------------------------------------------------------------------------------------
// The jail sink, in a forked child: once a process has chosen it there is no way back.

struct JailRun {
  std::vector<Message> messages;  // what the monitor end received, in order
  std::string error;              // ReceiveMessage's error, if it failed
  int status = -1;                // the child's wait status
};

// Runs body in a child whose log sink is the jail end of a new channel, and collects what the
// monitor end receives until the child has exited.
JailRun RunInJail(const std::function<void()>& body) {
  JailRun run;
  UniqueFd monitor_end, jail_end;
  CHECK_OR_RETURN(MakeChannel(&monitor_end, &jail_end).ok(), run);
  const pid_t pid = fork();
  CHECK_OR_RETURN(pid >= 0, run);
  if (pid == 0) {
    UseJailLogSink(jail_end.get());
    body();
    _exit(0);
  }
  jail_end.Reset();  // the child's copy is the only one left: its exit ends the stream
  while (true) {
    Message m;
    ReceiveOutcome outcome = ReceiveMessage(monitor_end.get(), &m, &run.error);
    if (outcome != ReceiveOutcome::kMessage) break;
    run.messages.push_back(std::move(m));
  }
  monitor_end.Reset();
  CHECK(waitpid(pid, &run.status, 0) == pid);
  return run;
}

bool ExitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

struct LogRecord {
  std::uint8_t priority = 0xff;
  std::string text;
};

// A LOG body as the monitor reads it, with a generous bound so that the test sees the length
// the jail chose.
bool DecodeLog(const Message& m, LogRecord* out) {
  WireReader r(m.body);
  r.GetU8(&out->priority);
  r.GetString(0xffff, &out->text);
  return m.type == MsgType::kLog && !m.fd.valid() && r.Finish();
}

struct EventRecord {
  std::uint8_t priority = 0xff;
  std::string text, command, path, result, target;
  std::uint64_t bytes = 0, duration_usec = 0;
  std::uint8_t transfer_type = 0xff;
};

bool DecodeEvent(const Message& m, EventRecord* out) {
  WireReader r(m.body);
  r.GetU8(&out->priority);
  r.GetString(0xffff, &out->text);
  r.GetString(0xffff, &out->command);
  r.GetString(0xffff, &out->path);
  r.GetU64(&out->bytes);
  r.GetU64(&out->duration_usec);
  r.GetString(0xffff, &out->result);
  r.GetU8(&out->transfer_type);
  r.GetString(0xffff, &out->target);
  return m.type == MsgType::kEvent && !m.fd.valid() && r.Finish();
}

TEST_CASE("In a jail, Log sends one LOG message: the priority byte and the text") {
  const JailRun run = RunInJail([] { Log(kLogNotice, "client sent QUIT"); });
  CHECK(ExitedWith(run.status, 0));
  CHECK(run.error.empty());
  CHECK_OR_RETURN(run.messages.size() == 1);
  LogRecord rec;
  CHECK(DecodeLog(run.messages[0], &rec));
  CHECK(rec.priority == kLogNotice);
  CHECK(rec.text == "client sent QUIT");
}

TEST_CASE("In a jail, every priority travels as itself and records keep their order") {
  const JailRun run = RunInJail([] {
    Log(kLogErr, "e");
    Log(kLogWarning, "w");
    Log(kLogNotice, "n");
    Log(kLogInfo, "i");
    Log(kLogDebug, "d");
    Log(kLogInfo, "");
  });
  CHECK(ExitedWith(run.status, 0));
  CHECK_OR_RETURN(run.messages.size() == 6);
  const std::uint8_t priorities[] = {3, 4, 5, 6, 7, 6};
  const char* texts[] = {"e", "w", "n", "i", "d", ""};
  for (std::size_t i = 0; i < 6; ++i) {
    LogRecord rec;
    CHECK(DecodeLog(run.messages[i], &rec));
    CHECK(rec.priority == priorities[i]);
    CHECK(rec.text == texts[i]);
  }
}

TEST_CASE("In a jail, a text longer than kMaxLogText is cut to it, the most the monitor reads") {
  const JailRun run = RunInJail([] {
    Log(kLogInfo, std::string(kMaxLogText, 'x'));
    Log(kLogInfo, std::string(kMaxLogText + 1, 'y'));
    Log(kLogInfo, std::string(kMaxMessageBody * 2, 'z'));
  });
  CHECK(ExitedWith(run.status, 0));
  CHECK_OR_RETURN(run.messages.size() == 3);
  LogRecord exact, one_over, far_over;
  CHECK(DecodeLog(run.messages[0], &exact));
  CHECK(DecodeLog(run.messages[1], &one_over));
  CHECK(DecodeLog(run.messages[2], &far_over));
  CHECK(exact.text == std::string(kMaxLogText, 'x'));
  CHECK(one_over.text == std::string(kMaxLogText, 'y'));
  CHECK(far_over.text == std::string(kMaxLogText, 'z'));
  // What the monitor's decoder (GetString(kMaxLogText)) accepts.
  for (const Message& m : run.messages) {
    WireReader r(m.body);
    std::uint8_t priority = 0;
    std::string text;
    r.GetU8(&priority);
    r.GetString(kMaxLogText, &text);
    CHECK(r.Finish());
  }
}

TEST_CASE("In a jail, the text is sent byte for byte: sanitising is the monitor's job") {
  const std::string raw("name\r\nwith\0control\x1b\x7f\xc3\xa9", 22);
  const JailRun run = RunInJail([&raw] { Log(kLogWarning, raw); });
  CHECK_OR_RETURN(run.messages.size() == 1);
  LogRecord rec;
  CHECK(DecodeLog(run.messages[0], &rec));
  CHECK(rec.text == raw);
}

TEST_CASE("In a jail, an event sends one EVENT message with every field in order") {
  const JailRun run = RunInJail([] {
    LogEvent e;
    e.command = "RETR";
    e.path = "/pub/file.iso";
    e.bytes = 1234567;
    e.duration_usec = 2500000;
    e.result = "ok";
    e.transfer_type = 'b';
    e.target = "/pub/other.iso";
    LogEventRecord(kLogInfo, "download finished", e);
  });
  CHECK(ExitedWith(run.status, 0));
  CHECK_OR_RETURN(run.messages.size() == 1);
  EventRecord ev;
  CHECK(DecodeEvent(run.messages[0], &ev));
  CHECK(ev.priority == kLogInfo);
  CHECK(ev.text == "download finished");
  CHECK(ev.command == "RETR");
  CHECK(ev.path == "/pub/file.iso");
  CHECK(ev.bytes == 1234567);
  CHECK(ev.duration_usec == 2500000);
  CHECK(ev.result == "ok");
  CHECK(ev.transfer_type == 'b');
  CHECK(ev.target == "/pub/other.iso");
}

TEST_CASE("In a jail, an event's unset numbers travel as all ones and its type as 0") {
  const JailRun run = RunInJail([] { LogEventRecord(kLogNotice, "", LogEvent{}); });
  CHECK_OR_RETURN(run.messages.size() == 1);
  EventRecord ev;
  CHECK(DecodeEvent(run.messages[0], &ev));
  CHECK(ev.priority == kLogNotice);
  CHECK(ev.text.empty());
  CHECK(ev.command.empty());
  CHECK(ev.path.empty());
  CHECK(ev.bytes == UINT64_MAX);  // -1
  CHECK(ev.duration_usec == UINT64_MAX);
  CHECK(ev.result.empty());
  CHECK(ev.transfer_type == 0);
}

TEST_CASE("In a jail, each event field is cut to its limit and the body fits a message") {
  const JailRun run = RunInJail([] {
    LogEvent e;
    e.command = std::string(kMaxEventCommand + 5, 'C');
    e.path = std::string(kMaxEventPath + 5, 'P');
    e.result = std::string(kMaxEventResult + 5, 'R');
    e.bytes = INT64_MAX;
    e.duration_usec = 0;
    LogEventRecord(kLogInfo, std::string(kMaxEventText + 5, 'T'), e);
    // Exactly at the limits: nothing is cut.
    e.command = std::string(kMaxEventCommand, 'c');
    e.path = std::string(kMaxEventPath, 'p');
    e.result = std::string(kMaxEventResult, 'r');
    LogEventRecord(kLogInfo, std::string(kMaxEventText, 't'), e);
  });
  CHECK(ExitedWith(run.status, 0));
  CHECK(run.error.empty());
  CHECK_OR_RETURN(run.messages.size() == 2);
  EventRecord cut, exact;
  CHECK(DecodeEvent(run.messages[0], &cut));
  CHECK(cut.text == std::string(kMaxEventText, 'T'));
  CHECK(cut.command == std::string(kMaxEventCommand, 'C'));
  CHECK(cut.path == std::string(kMaxEventPath, 'P'));
  CHECK(cut.result == std::string(kMaxEventResult, 'R'));
  CHECK(cut.bytes == static_cast<std::uint64_t>(INT64_MAX));
  CHECK(cut.duration_usec == 0);
  CHECK(DecodeEvent(run.messages[1], &exact));
  CHECK(exact.text == std::string(kMaxEventText, 't'));
  CHECK(exact.command == std::string(kMaxEventCommand, 'c'));
  CHECK(exact.path == std::string(kMaxEventPath, 'p'));
  CHECK(exact.result == std::string(kMaxEventResult, 'r'));
  CHECK(run.messages[0].body.size() <= kMaxMessageBody);
}

void LogFromHook() { Log(kLogNotice, "fatal hook ran"); }

TEST_CASE("In a jail, Fatal sends its message as an error record, runs the hook, and exits 1") {
  const JailRun run = RunInJail([] {
    SetFatalHook(LogFromHook);
    Fatal("monitor answered nonsense");
  });
  CHECK(ExitedWith(run.status, 1));
  CHECK_OR_RETURN(run.messages.size() == 2);
  LogRecord fatal, hook;
  CHECK(DecodeLog(run.messages[0], &fatal));
  CHECK(fatal.priority == kLogErr);
  CHECK(fatal.text == "monitor answered nonsense");
  CHECK(DecodeLog(run.messages[1], &hook));
  CHECK(hook.text == "fatal hook ran");

  // Without a hook: the record, then exit status 1.
  const JailRun plain = RunInJail([] {
    SetFatalHook(nullptr);
    Fatal("no hook");
  });
  CHECK(ExitedWith(plain.status, 1));
  CHECK_OR_RETURN(plain.messages.size() == 1);
  LogRecord only;
  CHECK(DecodeLog(plain.messages[0], &only));
  CHECK(only.text == "no hook");
}

// ---------------------------------------------------------------------------------------------
// The monitor's stderr sink (the sink a process has before it chooses one; this program never
// chooses, so journald and syslog are never touched) and the transfer logs.

// fd 2 into a pipe until Finish(), which puts it back and returns what was written.
class CaptureStderr {
 public:
  CaptureStderr() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    read_end_.Reset(fds[0]);
    saved_.Reset(fcntl(2, F_DUPFD_CLOEXEC, 3));
    dup2(fds[1], 2);
    close(fds[1]);
  }
  ~CaptureStderr() { Finish(); }
  CaptureStderr(const CaptureStderr&) = delete;
  CaptureStderr& operator=(const CaptureStderr&) = delete;
  std::string Finish() {
    if (!saved_.valid()) return "";
    dup2(saved_.get(), 2);  // closes the pipe's last write end
    saved_.Reset();
    std::string out = ReadAll(read_end_.get());
    read_end_.Reset();
    return out;
  }

 private:
  UniqueFd read_end_, saved_;
};

// Sets the monitor's log context for one test, and puts the old one back.
class ContextForTest {
 public:
  ContextForTest(std::string process, std::string addr, std::string port, std::string user,
                 char access)
      : saved_(MonitorLogContext()) {
    LogContext& c = MonitorLogContext();
    c.process = std::move(process);
    c.remote_addr = std::move(addr);
    c.remote_port = std::move(port);
    c.user = std::move(user);
    c.access = access;
  }
  ~ContextForTest() { MonitorLogContext() = saved_; }
  ContextForTest(const ContextForTest&) = delete;
  ContextForTest& operator=(const ContextForTest&) = delete;

 private:
  LogContext saved_;
};

std::string Pid() { return std::to_string(getpid()); }

TEST_CASE("The stderr sink writes one line: keepftpd[pid], the client, the process, the text") {
  std::string with_client, without_client;
  {
    ContextForTest context("monitor", "192.0.2.7", "50123", "alice", 'r');
    CaptureStderr capture;
    Log(kLogInfo, "logged in");
    with_client = capture.Finish();
  }
  {
    ContextForTest context("monitor", "", "", "", 'a');
    CaptureStderr capture;
    Log(kLogErr, "no client yet");
    without_client = capture.Finish();
  }
  CHECK(with_client == "keepftpd[" + Pid() + "] 192.0.2.7:50123 monitor: logged in\n");
  CHECK(without_client == "keepftpd[" + Pid() + "] monitor: no client yet\n");
}

TEST_CASE("The stderr sink replaces control bytes in the text, one line per record") {
  std::string out;
  {
    ContextForTest context("monitor", "", "", "", 'a');
    CaptureStderr capture;
    Log(kLogWarning, std::string_view("a\r\nforged line\0\x1b[2J\x7f", 20));
    out = capture.Finish();
  }
  CHECK(out == "keepftpd[" + Pid() + "] monitor: a??forged line??[2J?\n");
}

TEST_CASE("A jail's record written by the monitor starts with the jail's name and is sanitised") {
  std::string out;
  {
    ContextForTest context("monitor", "2001:db8::1", "2121", "", 'a');
    CaptureStderr capture;
    LogFromJail(kLogNotice, "session", "user typed\r\nQUIT");
    out = capture.Finish();
  }
  CHECK(out == "keepftpd[" + Pid() + "] 2001:db8::1:2121 session jail: user typed??QUIT\n");
}

// The transfer logs into two pipes for one test, switched off again after.
class TransferLogsForTest {
 public:
  TransferLogsForTest() {
    int v[2], x[2];
    if (pipe2(v, O_CLOEXEC) != 0) return;
    vsftpd_read_.Reset(v[0]);
    vsftpd_write_.Reset(v[1]);
    if (pipe2(x, O_CLOEXEC) != 0) return;
    xferlog_read_.Reset(x[0]);
    xferlog_write_.Reset(x[1]);
    UseTransferLogs(vsftpd_write_.get(), xferlog_write_.get());
  }
  ~TransferLogsForTest() { UseTransferLogs(-1, -1); }
  TransferLogsForTest(const TransferLogsForTest&) = delete;
  TransferLogsForTest& operator=(const TransferLogsForTest&) = delete;

  bool ok() const { return xferlog_write_.valid(); }
  // Everything written so far: {vsftpd log, xferlog}. Ends the logging.
  std::pair<std::string, std::string> Finish() {
    UseTransferLogs(-1, -1);
    vsftpd_write_.Reset();
    xferlog_write_.Reset();
    return {ReadAll(vsftpd_read_.get()), ReadAll(xferlog_read_.get())};
  }

 private:
  UniqueFd vsftpd_read_, vsftpd_write_, xferlog_read_, xferlog_write_;
};

// The "%a %b %e %H:%M:%S %Y" date both logs start with: 24 characters, then a space.
bool StartsWithDate(const std::string& line) {
  if (line.size() < 25 || line[24] != ' ') return false;
  struct tm tm = {};
  const std::string date = line.substr(0, 24);
  const char* end = strptime(date.c_str(), "%a %b %e %H:%M:%S %Y", &tm);
  return end != nullptr && *end == '\0';
}

struct TransferLines {
  std::string vsftpd, xferlog, stderr_text;
};

// Writes one event from a jail through the monitor, with the transfer logs and stderr captured.
TransferLines WriteEvent(const LogEvent& e) {
  TransferLines out;
  TransferLogsForTest logs;
  CHECK_OR_RETURN(logs.ok(), out);
  CaptureStderr capture;
  LogEventFromJail(kLogInfo, "session", "transfer", e);
  out.stderr_text = capture.Finish();
  std::tie(out.vsftpd, out.xferlog) = logs.Finish();
  return out;
}

LogEvent Transfer(std::string command, std::string path, std::int64_t bytes,
                  std::int64_t usec, std::string result, char type) {
  LogEvent e;
  e.command = std::move(command);
  e.path = std::move(path);
  e.bytes = bytes;
  e.duration_usec = usec;
  e.result = std::move(result);
  e.transfer_type = type;
  return e;
}

TEST_CASE("A download writes one vsftpd line and one xferlog line, and the record to stderr") {
  ContextForTest context("monitor", "192.0.2.7", "50123", "alice", 'r');
  const TransferLines t = WriteEvent(Transfer("RETR", "/pub/a file.txt", 1234, 2500000, "ok", 'b'));
  // The monitor names the client and the user after what the jail said.
  CHECK(t.stderr_text == "keepftpd[" + Pid() + "] 192.0.2.7:50123 session jail: transfer "
                         "(client 192.0.2.7, user \"alice\")\n");
  CHECK(StartsWithDate(t.vsftpd));
  CHECK(t.vsftpd.substr(24) == " [pid " + Pid() + "] [alice] OK DOWNLOAD: Client \"192.0.2.7\", "
                               "\"/pub/a file.txt\", 1234 bytes, 0.48Kbyte/sec\n");
  // xferlog: seconds rounded up, spaces in the name as '_', binary, outgoing, real user,
  // complete.
  CHECK(StartsWithDate(t.xferlog));
  CHECK(t.xferlog.substr(24) == " 3 192.0.2.7 1234 /pub/a_file.txt b _ o r alice ftp 0 * c\n");
}

TEST_CASE("Uploads (STOR, APPE, STOU) are logged as incoming, failures as FAIL and incomplete") {
  ContextForTest context("monitor", "198.51.100.1", "1", "", 'a');
  for (const char* command : {"STOR", "APPE", "STOU"}) {
    CAPTURE(command);
    const TransferLines t = WriteEvent(Transfer(command, "/incoming/x", 10, 2, "failed", 'a'));
    // No user: no brackets at all, as in vsftpd.
    CHECK(t.vsftpd.substr(24) == " [pid " + Pid() + "] FAIL UPLOAD: Client \"198.51.100.1\", "
                                 "\"/incoming/x\", 10 bytes, 4882.81Kbyte/sec\n");
    // Anonymous, no user name: '*'; ASCII; one second at least.
    CHECK(t.xferlog.substr(24) == " 1 198.51.100.1 10 /incoming/x a _ i a * ftp 0 * i\n");
  }
}

TEST_CASE("xferlog rounds the duration up to whole seconds, and a zero duration to one; "
          "vsftpd's rate counts no time as a tenth of a second") {
  ContextForTest context("monitor", "192.0.2.7", "1", "bob", 'g');
  struct Case {
    std::int64_t usec;
    const char* seconds;
    const char* rate;
  };
  for (const Case& c : {Case{0, "1", "10.00"}, Case{-1, "1", "10.00"}, Case{1, "1", "1000000.00"},
                        Case{1000000, "1", "1.00"}, Case{1000001, "2", "1.00"},
                        Case{59999999, "60", "0.02"}}) {
    CAPTURE(c.usec);
    const TransferLines t = WriteEvent(Transfer("RETR", "/f", 1024, c.usec, "ok", 'b'));
    CHECK(t.xferlog.substr(24) == std::string(" ") + c.seconds + " 192.0.2.7 1024 /f b _ o g bob "
                                  "ftp 0 * c\n");
    CHECK(t.vsftpd.substr(24) == " [pid " + Pid() + "] [bob] OK DOWNLOAD: Client \"192.0.2.7\", "
                                 "\"/f\", 1024 bytes, " + c.rate + "Kbyte/sec\n");
  }
}

TEST_CASE("Control bytes in a logged name become '?', in both transfer logs") {
  ContextForTest context("monitor", "192.0.2.7", "1", "ev\nil", 'r');
  const TransferLines t = WriteEvent(
      Transfer("RETR", std::string("/a\r\nb\0c\td e\x7f\xc3\xa9", 14), 1, 1, "ok", 'b'));
  CHECK(t.vsftpd.substr(24) == " [pid " + Pid() + "] [ev?il] OK DOWNLOAD: Client \"192.0.2.7\", "
                               "\"/a??b?c?d e?\xc3\xa9\", 1 bytes, 976.56Kbyte/sec\n");
  CHECK(t.xferlog.substr(24) == " 1 192.0.2.7 1 /a??b?c?d_e?\xc3\xa9 b _ o r ev?il ftp 0 * c\n");
  // One line each: no byte of the name ended a line.
  CHECK(std::count(t.vsftpd.begin(), t.vsftpd.end(), '\n') == 1);
  CHECK(std::count(t.xferlog.begin(), t.xferlog.end(), '\n') == 1);
}

TEST_CASE("Events vsftpd has no line for write none: directory changes, listings, unknown ones") {
  ContextForTest context("monitor", "192.0.2.7", "1", "alice", 'r');
  for (const LogEvent& e : {Transfer("CWD", "/pub", -1, -1, "ok", 0),
                            Transfer("LIST", "/pub", 100, 1, "ok", 'a'),
                            Transfer("retr", "/pub/x", 10, 1, "ok", 'b'),  // commands are upper case
                            Transfer("RNFR", "/pub/x", -1, -1, "ok", 0)}) {  // RNTO's line says it
    CAPTURE(e.command);
    const TransferLines t = WriteEvent(e);
    CHECK(t.vsftpd.empty());
    CHECK(t.xferlog.empty());
  }
}

TEST_CASE("A refused or failed transfer is a FAIL line without a byte count, and incomplete") {
  ContextForTest context("monitor", "192.0.2.7", "1", "ftp", 'a');
  MonitorLogContext().anon_password = "guest@example.com";
  const TransferLines t = WriteEvent(Transfer("RETR", "/pub/missing", 0, -1, "failed", 'b'));
  CHECK(t.vsftpd.substr(24) == " [pid " + Pid() + "] [ftp] FAIL DOWNLOAD: Client \"192.0.2.7\", "
                               "\"/pub/missing\", 0.00Kbyte/sec\n");
  // An anonymous user is known by the password given, as vsftpd writes it.
  CHECK(t.xferlog.substr(24) ==
        " 1 192.0.2.7 0 /pub/missing b _ o a guest@example.com ftp 0 * i\n");
  MonitorLogContext().anon_password.clear();
}

TEST_CASE("Changes to files are in vsftpd's log as vsftpd writes them, and not in the xferlog") {
  ContextForTest context("monitor", "192.0.2.7", "1", "alice", 'r');
  struct Case {
    LogEvent event;
    const char* line;
  };
  auto with_target = [](LogEvent e, std::string target) {
    e.target = std::move(target);
    return e;
  };
  for (const Case& c : {
           Case{Transfer("MKD", "/d", -1, -1, "ok", 0), "OK MKDIR: Client \"192.0.2.7\", \"/d\""},
           Case{Transfer("MKD", "/d", -1, -1, "failed", 0), "FAIL MKDIR: Client \"192.0.2.7\", \"/d\""},
           Case{Transfer("RMD", "/d", -1, -1, "refused", 0), "FAIL RMDIR: Client \"192.0.2.7\", \"/d\""},
           Case{Transfer("DELE", "/f", -1, -1, "ok", 0), "OK DELETE: Client \"192.0.2.7\", \"/f\""},
           Case{with_target(Transfer("RNTO", "/a", -1, -1, "ok", 0), "/b"),
                "OK RENAME: Client \"192.0.2.7\", \"/a /b\""},
           Case{Transfer("RNFR", "/a", -1, -1, "failed", 0), "FAIL RENAME: Client \"192.0.2.7\", \"/a\""},
           Case{with_target(Transfer("SITE CHMOD", "/f", -1, -1, "ok", 0), "600"),
                "OK CHMOD: Client \"192.0.2.7\", \"/f 600\""}}) {
    CAPTURE(c.line);
    const TransferLines t = WriteEvent(c.event);
    CHECK(t.vsftpd.substr(24) == " [pid " + Pid() + "] [alice] " + c.line + "\n");
    CHECK(t.xferlog.empty());
  }
}

TEST_CASE("Connections and logins are the monitor's lines: a jail's PASS or SESSION writes none") {
  ContextForTest context("monitor", "192.0.2.7", "1", "", 'a');
  LogEvent start = Transfer("SESSION", "", -1, -1, "start", 0);
  LogEvent failed = Transfer("PASS", "", -1, -1, "failed", 0);
  failed.login_user = "mallory";
  for (const LogEvent& e : {start, failed}) {
    const TransferLines t = WriteEvent(e);
    CHECK(t.vsftpd.empty());
  }
  TransferLogsForTest logs;
  CHECK_OR_RETURN(logs.ok());
  CaptureStderr capture;
  LogEventRecord(kLogInfo, "session start", start);
  LogEventRecord(kLogNotice, "login failed", failed);
  MonitorLogContext().user = "ftp";
  MonitorLogContext().anon_password = "a\"b";
  LogEventRecord(kLogNotice, "anonymous login", Transfer("PASS", "/srv/ftp", -1, -1, "ok", 0));
  MonitorLogContext().anon_password.clear();
  capture.Finish();
  const std::string vsftpd = logs.Finish().first;
  const std::vector<std::string_view> lines = Split(vsftpd, '\n');
  CHECK_OR_RETURN(lines.size() == 4);
  CHECK(lines[0].substr(24) == " [pid " + Pid() + "] CONNECT: Client \"192.0.2.7\"");
  CHECK(lines[1].substr(24) == " [pid " + Pid() + "] [mallory] FAIL LOGIN: Client \"192.0.2.7\"");
  // The password, between quotes, cannot close them.
  CHECK(lines[2].substr(24) == " [pid " + Pid() + "] [ftp] OK LOGIN: Client \"192.0.2.7\", "
                               "anon password \"a?b\"");
}

TEST_CASE("A name cannot forge fields or drive a terminal: quotes, C0 and C1 bytes are '?'") {
  ContextForTest context("monitor", "192.0.2.7", "1", "a]b", 'r');
  const TransferLines t = WriteEvent(
      Transfer("RETR", "/x\", 9 bytes, 1.00Kbyte/sec\x1b[2J\x9b" "2J\xc2\x9b" "2J", 1, 1, "ok", 'b'));
  // ']' in the user too: fail2ban's vsftpd filter reads the user up to the first one.
  CHECK(t.vsftpd.substr(24) == " [pid " + Pid() + "] [a?b] OK DOWNLOAD: Client \"192.0.2.7\", "
                               "\"/x?, 9 bytes, 1.00Kbyte/sec?[2J?2J??2J\", 1 bytes, 976.56Kbyte/sec\n");
  CHECK(t.xferlog.substr(24) ==
        " 1 192.0.2.7 1 /x?,_9_bytes,_1.00Kbyte/sec?[2J?2J??2J b _ o r a]b ftp 0 * c\n");
}

TEST_CASE("With only one transfer log open, only that one is written") {
  ContextForTest context("monitor", "192.0.2.7", "1", "alice", 'r');
  int fds[2];
  CHECK_OR_RETURN(pipe2(fds, O_CLOEXEC) == 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  std::string only_xferlog, only_vsftpd;
  {
    UseTransferLogs(-1, write_end.get());
    CaptureStderr capture;
    LogEventFromJail(kLogInfo, "session", "t", Transfer("RETR", "/f", 1, 1, "ok", 'b'));
    UseTransferLogs(write_end.get(), -1);
    LogEventFromJail(kLogInfo, "session", "t", Transfer("STOR", "/g", 3, 1, "ok", 'b'));
    UseTransferLogs(-1, -1);
    LogEventFromJail(kLogInfo, "session", "t", Transfer("STOR", "/h", 3, 1, "ok", 'b'));
    capture.Finish();
  }
  write_end.Reset();
  const std::string both = ReadAll(read_end.get());
  const std::vector<std::string_view> lines = Split(both, '\n');
  CHECK_OR_RETURN(lines.size() == 3);  // two lines and the empty rest after the last newline
  CHECK(lines[0].substr(24) == " 1 192.0.2.7 1 /f b _ o r alice ftp 0 * c");
  CHECK(lines[1].substr(24) == " [pid " + Pid() + "] [alice] OK UPLOAD: Client \"192.0.2.7\", "
                               "\"/g\", 3 bytes, 2929.69Kbyte/sec");
  CHECK(lines[2].empty());
}

}  // namespace
}  // namespace keepftpd
