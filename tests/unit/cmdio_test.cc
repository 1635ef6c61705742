// Tests for src/jail/cmdio.cc: ReadLine takes exactly one line and leaves the rest in the socket,
// holds a line to kMaxCommandLine bytes, times out and sees the client leave; PeekLine and
// ConsumePeeked; replies cannot be split or end a multi-line reply early.
#include "cmdio.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ftp_command.h"
#include "ipc.h"
#include "log.h"
#include "test_support.h"
#include "unique_fd.h"
#include "wire.h"

namespace keepftpd {
namespace {

using Outcome = ControlConnection::ReadOutcome;

// A connected stream pair standing in for the control connection.
struct Control {
  UniqueFd server;  // the jail's end, which ControlConnection reads and replies on
  UniqueFd client;  // the FTP client's end
  Control() {
    int fds[2];
    CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    server.Reset(fds[0]);
    client.Reset(fds[1]);
  }
};

bool Send(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    CHECK_OR_RETURN(n > 0, false);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The bytes waiting in fd's receive queue, left there.
std::string Unread(int fd) {
  std::string buf(1 << 16, '\0');
  ssize_t n = recv(fd, buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && errno == EAGAIN) return "";
  CHECK_OR_RETURN(n >= 0, "");
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

// Everything waiting in fd's receive queue, taken.
std::string Take(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) out.append(buf, n);
  return out;
}

// Everything fd receives until end of stream.
std::string TakeToEnd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, n);
  return out;
}

struct LogRecord {
  int priority = -1;
  std::string text;
};

struct ChildRun {
  int status = -1;  // as waitpid gives it
  std::vector<LogRecord> logs;
};

// Runs body in a forked child that logs over a channel as a jail does (so that nothing reaches
// this program's stderr), collects what it logged until it exits, and reaps it.
template <typename Body>
ChildRun RunAsJail(Body body) {
  ChildRun run;
  UniqueFd monitor_end, jail_end;
  CHECK_OR_RETURN(MakeChannel(&monitor_end, &jail_end).ok(), run);
  pid_t pid = fork();
  CHECK_OR_RETURN(pid >= 0, run);
  if (pid == 0) {
    UseJailLogSink(jail_end.get());
    body();
    _exit(99);  // body is expected to end the process itself
  }
  jail_end.Reset();
  Message msg;
  std::string error;
  while (ReceiveMessage(monitor_end.get(), &msg, &error) == ReceiveOutcome::kMessage) {
    WireReader r(msg.body);
    std::uint8_t priority = 0;
    LogRecord record;
    r.GetU8(&priority);
    r.GetString(kMaxLogText, &record.text);
    CHECK(msg.type == MsgType::kLog);
    CHECK(r.Finish());
    record.priority = priority;
    run.logs.push_back(record);
  }
  CHECK(waitpid(pid, &run.status, 0) == pid);
  return run;
}

bool ExitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

TEST_CASE("ReadLine returns one line and leaves the bytes after it in the socket") {
  Control c;
  CHECK_OR_RETURN(Send(c.client.get(), "USER alice\r\nPASS secret\r\nNO"));
  ControlConnection ctrl(c.server.get());
  std::string line;
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "USER alice");
  CHECK(Unread(c.server.get()) == "PASS secret\r\nNO");

  // The next owner of the connection (the session jail after login) reads on from there.
  ControlConnection next(c.server.get());
  CHECK(next.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "PASS secret");
  CHECK(Unread(c.server.get()) == "NO");
}

TEST_CASE("CRLF and a bare LF both end a line, and neither is part of it") {
  Control c;
  CHECK_OR_RETURN(Send(c.client.get(), "CWD a\r\nCWD b\n\r\n\nA\rB\r\n"));
  ControlConnection ctrl(c.server.get());
  std::string line;
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "CWD a");
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "CWD b");
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line.empty());
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line.empty());
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "A\rB");  // a CR alone ends nothing
  CHECK(Unread(c.server.get()).empty());
}

TEST_CASE("A line written in pieces is read as one line once its end arrives") {
  Control c;
  ControlConnection ctrl(c.server.get());
  std::string line;
  bool closed = true;
  // PeekLine takes each piece of an unfinished line out of the socket, as ReadLine does.
  for (std::string_view piece : {"R", "ETR my", " file"}) {
    CHECK_OR_RETURN(Send(c.client.get(), piece));
    CHECK_FALSE(ctrl.PeekLine(&line, &closed));
    CHECK_FALSE(closed);
    CHECK(Unread(c.server.get()).empty());
  }
  CHECK_OR_RETURN(Send(c.client.get(), ".txt\r"));
  CHECK_FALSE(ctrl.PeekLine(&line, &closed));
  CHECK_OR_RETURN(Send(c.client.get(), "\nNOOP\r\n"));
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "RETR my file.txt");
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "NOOP");  // nothing of the first line is left over
}

TEST_CASE("A line of kMaxCommandLine bytes, line end included, is a line") {
  CHECK(kMaxCommandLine == 4096);
  Control c;
  ControlConnection ctrl(c.server.get());
  std::string line;
  const std::string crlf_line(kMaxCommandLine - 2, 'a');
  CHECK_OR_RETURN(Send(c.client.get(), crlf_line + "\r\n"));
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == crlf_line);

  const std::string lf_line(kMaxCommandLine - 1, 'b');
  CHECK_OR_RETURN(Send(c.client.get(), lf_line + "\n"));
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == lf_line);

  // The same in two pieces: the first held back in the connection's buffer.
  bool closed = false;
  CHECK_OR_RETURN(Send(c.client.get(), crlf_line.substr(0, 4000)));
  CHECK_FALSE(ctrl.PeekLine(&line, &closed));
  CHECK_OR_RETURN(Send(c.client.get(), crlf_line.substr(4000) + "\r\nNOOP\r\n"));
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == crlf_line);
  CHECK(Unread(c.server.get()) == "NOOP\r\n");
}

TEST_CASE("A line one byte over kMaxCommandLine is kTooLong, and no more of it is read") {
  std::string line;
  {
    Control c;
    ControlConnection ctrl(c.server.get());
    CHECK_OR_RETURN(Send(c.client.get(), std::string(kMaxCommandLine - 1, 'a') + "\r\n"));
    CHECK(ctrl.ReadLine(&line, 0) == Outcome::kTooLong);
  }
  {
    Control c;
    ControlConnection ctrl(c.server.get());
    CHECK_OR_RETURN(Send(c.client.get(), std::string(kMaxCommandLine, 'a') + "\n"));
    CHECK(ctrl.ReadLine(&line, 0) == Outcome::kTooLong);
  }
  {
    // A client streaming bytes without a line end is heard no further than the limit.
    Control c;
    ControlConnection ctrl(c.server.get());
    CHECK_OR_RETURN(Send(c.client.get(), std::string(3 * kMaxCommandLine, 'a')));
    CHECK(ctrl.ReadLine(&line, 0) == Outcome::kTooLong);
    CHECK(Unread(c.server.get()).size() == 2 * kMaxCommandLine);
  }
  {
    // Also when the line arrives in pieces.
    Control c;
    ControlConnection ctrl(c.server.get());
    bool closed = false;
    CHECK_OR_RETURN(Send(c.client.get(), std::string(4000, 'a')));
    CHECK_FALSE(ctrl.PeekLine(&line, &closed));
    CHECK_OR_RETURN(Send(c.client.get(), std::string(kMaxCommandLine - 4000, 'a') + "\n"));
    CHECK(ctrl.ReadLine(&line, 0) == Outcome::kTooLong);
    CHECK(Unread(c.server.get()) == "\n");
  }
}

TEST_CASE("After kTooLong, EndTooLong logs, replies 500 and exits 0") {
  Control c;
  CHECK_OR_RETURN(Send(c.client.get(), std::string(kMaxCommandLine + 1, 'x')));
  const int server = c.server.get();
  ChildRun run = RunAsJail([server] {
    ControlConnection ctrl(server);
    std::string line;
    if (ctrl.ReadLine(&line, 0) == Outcome::kTooLong) ctrl.EndTooLong();
    _exit(2);
  });
  CHECK(ExitedWith(run.status, 0));
  c.server.Reset();  // the jail has gone; the monitor then ends the connection
  CHECK(TakeToEnd(c.client.get()) ==
        "500 Command line too long: the limit is 4096 bytes.\r\n");
  CHECK(std::string(ControlConnection::kTooLongReply).find("4096") != std::string::npos);
  CHECK_OR_RETURN(run.logs.size() == 1);
  CHECK(run.logs[0].priority == kLogNotice);
  CHECK(run.logs[0].text.find("longer than 4096 bytes") != std::string::npos);
}

TEST_CASE("With nothing sent, ReadLine returns kTimeout") {
  Control c;
  ControlConnection ctrl(c.server.get());
  std::string line;
  CHECK(ctrl.ReadLine(&line, 1) == Outcome::kTimeout);
}

TEST_CASE("Half a line is not a line at the timeout, and is kept for the rest of it") {
  Control c;
  ControlConnection ctrl(c.server.get());
  std::string line;
  CHECK_OR_RETURN(Send(c.client.get(), "NO"));
  CHECK(ctrl.ReadLine(&line, 1) == Outcome::kTimeout);
  CHECK(Unread(c.server.get()).empty());  // taken into the connection's buffer
  CHECK_OR_RETURN(Send(c.client.get(), "OP\r\n"));
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "NOOP");
}

TEST_CASE("ReadLine returns every line sent before the client closed, then kClosed") {
  Control c;
  ControlConnection ctrl(c.server.get());
  std::string line;
  CHECK_OR_RETURN(Send(c.client.get(), "QUIT\r\nHALF"));
  c.client.Reset();
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "QUIT");
  CHECK(ctrl.ReadLine(&line, 1) == Outcome::kClosed);  // an unfinished line is not one
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kClosed);
}

TEST_CASE("PeekLine shows a whole line without taking it; ConsumePeeked takes exactly it") {
  Control c;
  ControlConnection ctrl(c.server.get());
  std::string line = "unchanged";
  bool closed = true;
  CHECK_FALSE(ctrl.PeekLine(&line, &closed));  // nothing there
  CHECK_FALSE(closed);

  CHECK_OR_RETURN(Send(c.client.get(), "ABOR\r\nNOOP\r\n"));
  CHECK(ctrl.PeekLine(&line, &closed));
  CHECK(line == "ABOR");
  CHECK_FALSE(closed);
  CHECK(Unread(c.server.get()) == "ABOR\r\nNOOP\r\n");
  CHECK(ctrl.PeekLine(&line, &closed));  // again: the same line
  CHECK(line == "ABOR");
  ctrl.ConsumePeeked(0);
  CHECK(Unread(c.server.get()) == "NOOP\r\n");

  // Given the length: the same.
  CHECK(ctrl.PeekLine(&line, &closed));
  CHECK(line == "NOOP");
  ctrl.ConsumePeeked(6);
  CHECK(Unread(c.server.get()).empty());

  // A line whose start was taken before: ConsumePeeked takes the rest and forgets the start.
  CHECK_OR_RETURN(Send(c.client.get(), "AB"));
  CHECK_FALSE(ctrl.PeekLine(&line, &closed));
  CHECK_OR_RETURN(Send(c.client.get(), "OR\nSTAT\r\n"));
  CHECK(ctrl.PeekLine(&line, &closed));
  CHECK(line == "ABOR");
  ctrl.ConsumePeeked(0);
  CHECK(Unread(c.server.get()) == "STAT\r\n");
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "STAT");
}

TEST_CASE("PeekLine says closed when the client has left") {
  Control c;
  ControlConnection ctrl(c.server.get());
  std::string line;
  bool closed = false;
  c.client.Reset();
  CHECK_FALSE(ctrl.PeekLine(&line, &closed));
  CHECK(closed);
}

TEST_CASE("Reply sends CODE text CRLF, with CR, LF and NUL in the text made spaces") {
  Control c;
  ControlConnection ctrl(c.server.get());
  CHECK(ctrl.Reply(200, "Command okay."));
  CHECK(Take(c.client.get()) == "200 Command okay.\r\n");
  CHECK(ctrl.Reply(550, std::string_view("bad\r\n230 x\0y", 12)));
  CHECK(Take(c.client.get()) == std::string("550 bad  230 x y\r\n"));
  CHECK(ctrl.Reply(226, ""));
  CHECK(Take(c.client.get()) == "226 \r\n");
  CHECK(ctrl.SendRaw("raw\r\n"));
  CHECK(Take(c.client.get()) == "raw\r\n");

  c.client.Reset();
  CHECK_FALSE(ctrl.Reply(421, "gone"));  // a Status-like false, not SIGPIPE
}

TEST_CASE("ReplyMulti: only the last line looks final; a line that would gets a leading space") {
  Control c;
  ControlConnection ctrl(c.server.get());
  const std::vector<std::string> lines = {
      " EPRT",              // as given
      "211 END",            // looks final: a space in front
      "211-dash",           // a continuation already
      " 211 spaced",        // starts with a space already
      "2110 longer code",   // not "211 "
      "211",                // no space after the code
      "226 other code",     // another code is not the final line
      "a\r\nb",             // CR and LF become spaces
      "211\r\nafter CRLF",  // ... before the check: "211  after CRLF" looks final
      "",                   // an empty line stays empty
  };
  CHECK(ctrl.ReplyMulti(211, "Features:\r\n211 x", lines, "End\n."));
  const std::string sent = Take(c.client.get());
  CHECK(sent ==
        "211-Features:  211 x\r\n"
        " EPRT\r\n"
        " 211 END\r\n"
        "211-dash\r\n"
        " 211 spaced\r\n"
        "2110 longer code\r\n"
        "211\r\n"
        "226 other code\r\n"
        "a  b\r\n"
        " 211  after CRLF\r\n"
        "\r\n"
        "211 End .\r\n");

  // As a client reads it: the reply ends at the first line starting "211 ", the last one.
  std::size_t first_final = sent.find("\r\n211 ");
  CHECK(first_final == sent.rfind("\r\n211 "));
  CHECK(sent.compare(first_final, std::string::npos, "\r\n211 End .\r\n") == 0);

  CHECK(ctrl.ReplyMulti(214, "first", {}, "last"));
  CHECK(Take(c.client.get()) == "214-first\r\n214 last\r\n");
}

TEST_CASE("With a command rate set, every line still arrives, in order") {
  Control c;
  ControlConnection ctrl(c.server.get());
  ctrl.SetCommandRate(1000);  // a burst of 1000 passes at once: no waiting here
  CHECK_OR_RETURN(Send(c.client.get(), "A\r\nB\r\nC\r\nD\r\nE\r\n"));
  std::string line;
  for (const char* expected : {"A", "B", "C", "D", "E"}) {
    CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
    CHECK(line == expected);
  }
  ctrl.SetCommandRate(0);  // no limit
  CHECK_OR_RETURN(Send(c.client.get(), "F\r\n"));
  CHECK(ctrl.ReadLine(&line, 0) == Outcome::kLine);
  CHECK(line == "F");
}

TEST_CASE("Lines past the rate's burst still arrive, in order; the delay is logged at most once") {
  // In a child, so that the notice goes to a channel, not to this program's stderr.
  Control c;
  constexpr int kLines = 14;  // 10 pass at once; the rest wait about 0.1 s each
  std::string sent;
  for (int i = 0; i < kLines; ++i) sent += "NOOP " + std::to_string(i) + "\r\n";
  CHECK_OR_RETURN(Send(c.client.get(), sent));
  const int server = c.server.get();
  ChildRun run = RunAsJail([server] {
    ControlConnection ctrl(server);
    ctrl.SetCommandRate(10);
    std::string line;
    for (int i = 0; i < kLines; ++i) {
      if (ctrl.ReadLine(&line, 0) != Outcome::kLine || line != "NOOP " + std::to_string(i)) {
        _exit(10 + i);
      }
    }
    _exit(0);
  });
  CHECK(ExitedWith(run.status, 0));
  CHECK(Unread(c.server.get()).empty());
  CHECK(run.logs.size() <= 1);  // "commands are delayed", at most once per connection
  for (const LogRecord& r : run.logs) {
    CHECK(r.text.find("max_command_rate=10") != std::string::npos);
  }
}

}  // namespace
}  // namespace keepftpd
