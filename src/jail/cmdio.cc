// Control connection line reader and reply writer. Jails only.
#include "cmdio.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "ftp_command.h"
#include "log.h"
#include "strutil.h"

namespace keepftpd {

static_assert(kMaxCommandLine == 4096, "ControlConnection::kTooLongReply names the limit");

namespace {

std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  return out;
}

long NowMs() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

// Waits until fd is readable or the deadline (-1: none) passes. Returns 1 readable, 0 timeout,
// -1 error.
int WaitReadable(int fd, long deadline_ms) {
  pollfd p = {fd, POLLIN, 0};
  while (true) {
    int timeout_ms = -1;
    if (deadline_ms >= 0) {
      long left = deadline_ms - NowMs();
      if (left <= 0) return 0;
      timeout_ms = static_cast<int>(left);
    }
    int r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    return r == 0 ? 0 : 1;
  }
}

ssize_t RecvRetry(int fd, char* buf, std::size_t len, int flags) {
  ssize_t n;
  do {
    n = recv(fd, buf, len, flags);
  } while (n < 0 && errno == EINTR);
  return n;
}

void SleepMs(long ms) {
  long until = NowMs() + ms;
  for (long left = ms; left > 0; left = until - NowMs()) {
    poll(nullptr, 0, static_cast<int>(left));  // poll: allowed by every jail's policy
  }
}

}  // namespace

void ControlConnection::SetCommandRate(unsigned per_second) {
  rate_ = per_second;
  tokens_milli_ = static_cast<long>(per_second) * 1000;
  refilled_ms_ = NowMs();
}

void ControlConnection::PayForLine() {
  if (rate_ == 0) return;
  const long capacity = static_cast<long>(rate_) * 1000;
  long now = NowMs();
  tokens_milli_ = std::min(capacity, tokens_milli_ + (now - refilled_ms_) * rate_);
  refilled_ms_ = now;
  if (tokens_milli_ < 1000) {
    if (!throttle_logged_) {
      throttle_logged_ = true;
      Log(kLogNotice, "the client sends more than max_command_rate=" + std::to_string(rate_) +
                          " commands per second; its commands are delayed");
    }
    long wait = (1000 - tokens_milli_ + rate_ - 1) / rate_;
    SleepMs(wait);
    now = NowMs();
    tokens_milli_ = std::min(capacity, tokens_milli_ + (now - refilled_ms_) * rate_);
    refilled_ms_ = now;
  }
  tokens_milli_ -= 1000;
}

ControlConnection::ReadOutcome ControlConnection::ReadLine(std::string* line,
                                                           unsigned timeout_seconds) {
  char buf[kMaxCommandLine];
  // One deadline for the whole line: bytes trickling in without a line end (slowloris) are not
  // a command and do not restart the idle timer.
  const long deadline = timeout_seconds == 0 ? -1 : NowMs() + timeout_seconds * 1000L;
  while (true) {
    int w = WaitReadable(fd_, deadline);
    if (w == 0) return ReadOutcome::kTimeout;
    if (w < 0) return ReadOutcome::kClosed;
    // Never look further than the room left for this line.
    std::size_t room = sizeof(buf) - pending_.size();
    ssize_t n = RecvRetry(fd_, buf, room, MSG_PEEK);
    if (n <= 0) return ReadOutcome::kClosed;
    auto len = static_cast<std::size_t>(n);
    const void* lf = std::memchr(buf, '\n', len);
    if (lf == nullptr) {
      // No line end yet. These bytes belong to the line being read, so taking them out of the
      // kernel cannot steal anything from a later owner of the connection.
      RecvRetry(fd_, buf, len, 0);
      if (pending_.size() + len < sizeof(buf)) {
        pending_.append(buf, len);
        continue;
      }
      pending_.clear();
      return ReadOutcome::kTooLong;  // the caller ends the connection
    }
    std::size_t line_len = static_cast<const char*>(lf) - buf + 1;
    RecvRetry(fd_, buf, line_len, 0);  // consume exactly this line
    line->assign(pending_);
    pending_.clear();
    line->append(buf, line_len - 1);
    if (!line->empty() && line->back() == '\r') line->pop_back();
    PayForLine();
    return ReadOutcome::kLine;
  }
}

bool ControlConnection::PeekLine(std::string* line, bool* closed) {
  char buf[kMaxCommandLine];
  *closed = false;
  while (true) {
    std::size_t room = sizeof(buf) - pending_.size();
    if (room == 0) return false;  // ReadLine deals with over-long lines
    ssize_t n = RecvRetry(fd_, buf, room, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
      *closed = true;
      return false;
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) *closed = true;
      return false;
    }
    auto len = static_cast<std::size_t>(n);
    const void* lf = std::memchr(buf, '\n', len);
    if (lf == nullptr) {
      // Part of a line. A peek also stops at the urgent mark of a telnet Synch (IAC IP IAC DM
      // sent as urgent data before ABOR), so take these bytes, which belong to the line being
      // read, and look again past the mark.
      if (pending_.size() + len >= sizeof(buf)) return false;
      RecvRetry(fd_, buf, len, 0);
      pending_.append(buf, len);
      continue;
    }
    std::size_t line_len = static_cast<const char*>(lf) - buf + 1;
    std::size_t end = line_len - 1;
    line->assign(pending_);
    line->append(buf, end);
    if (!line->empty() && line->back() == '\r') line->pop_back();
    peeked_bytes_ = line_len;
    return true;
  }
}

void ControlConnection::ConsumePeeked(std::size_t line_bytes_with_end) {
  char buf[kMaxCommandLine];
  if (line_bytes_with_end == 0) line_bytes_with_end = peeked_bytes_;
  RecvRetry(fd_, buf, line_bytes_with_end, 0);
  peeked_bytes_ = 0;
  pending_.clear();
}

namespace {
bool g_protocol_log = false;
}  // namespace

void ControlConnection::SetProtocolLog(bool on) { g_protocol_log = on; }

void ControlConnection::LogCommand(std::string_view line) {
  if (!g_protocol_log) return;
  // Never a password: PASS is logged without its argument.
  std::string_view verb = line.substr(0, line.find(' '));
  if (EqualsIgnoreCase(verb, "PASS")) line = verb;
  Log(kLogDebug, "FTP command: " + SanitizeForLog(line.substr(0, 512)));
}

bool ControlConnection::SendRaw(std::string_view bytes) {
  if (g_protocol_log) {
    std::string_view shown = bytes.substr(0, 512);
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) shown.remove_suffix(1);
    Log(kLogDebug, "FTP response: " + SanitizeForLog(shown));
  }
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void ControlConnection::EndTooLong() {
  Log(kLogNotice, "the client sent a command line longer than " +
                      std::to_string(kMaxCommandLine) + " bytes; the connection is closed");
  Reply(500, kTooLongReply);
  // No shutdown(): the pre-login jail's filter does not allow it. The monitor ends the
  // connection as soon as this jail has gone.
  _exit(0);
}

bool ControlConnection::Reply(int code, std::string_view text) {
  std::string out = std::to_string(code) + " " + OneLine(text) + "\r\n";
  return SendRaw(out);
}

bool ControlConnection::ReplyMulti(int code, std::string_view first,
                                   const std::vector<std::string>& lines, std::string_view last) {
  std::string out = std::to_string(code) + "-" + OneLine(first) + "\r\n";
  for (const std::string& l : lines) {
    std::string one = OneLine(l);
    // A continuation line must not look like the final line "CODE ".
    if (one.size() >= 4 && one.compare(0, 3, std::to_string(code)) == 0 && one[3] == ' ') {
      out += " ";
    }
    out += one + "\r\n";
  }
  out += std::to_string(code) + " " + OneLine(last) + "\r\n";
  return SendRaw(out);
}

}  // namespace keepftpd
