// The control connection as the jails see it: a line reader that peeks and then consumes exactly
// one line (so bytes after it stay in the kernel for the next owner: the session jail after
// login, the TLS jail after AUTH TLS), with a fixed length cap that costs no memory, and the
// reply writer. Jails only.
#ifndef KEEPFTPD_SRC_JAIL_CMDIO_H_
#define KEEPFTPD_SRC_JAIL_CMDIO_H_

#include <string>
#include <string_view>
#include <vector>

namespace keepftpd {

class ControlConnection {
 public:
  explicit ControlConnection(int fd) : fd_(fd) {}

  enum class ReadOutcome {
    kLine,     // *line holds one line without its line end
    kTooLong,  // no line end within kMaxCommandLine bytes: call EndTooLong
    kTimeout,  // nothing arrived within timeout_seconds
    kClosed,   // the client closed the connection (or it broke)
  };
  // timeout_seconds 0 waits forever.
  ReadOutcome ReadLine(std::string* line, unsigned timeout_seconds);
  // After kTooLong: logs it, replies 500 and ends the process, so that a client streaming bytes
  // without a line end is heard no further than kMaxCommandLine (as vsftpd does).
  [[noreturn]] void EndTooLong();
  static constexpr std::string_view kTooLongReply =
      "Command line too long: the limit is 4096 bytes.";

  // If a complete line is waiting, returns it without consuming its end (for ABOR during
  // transfers; bytes of an unfinished line are taken into the pending buffer, as ReadLine does).
  // Returns false when no complete line is buffered. *closed is set when the peer closed.
  bool PeekLine(std::string* line, bool* closed);
  // Consumes what PeekLine returned.
  void ConsumePeeked(std::size_t line_bytes_with_end);

  // "CODE text\r\n". CR and LF inside text are replaced, so a reply cannot be split.
  bool Reply(int code, std::string_view text);
  // "CODE-first\r\n", then each line as given (CR and LF replaced; callers add the leading
  // space RFC 959 asks for), then "CODE last\r\n". A line that would read as the final line
  // ("CODE " at its start) gets a leading space.
  bool ReplyMulti(int code, std::string_view first, const std::vector<std::string>& lines,
                  std::string_view last);
  // Sends raw bytes (already formatted reply text).
  bool SendRaw(std::string_view bytes);

  int fd() const { return fd_; }
  // Bytes of a line whose end has not come yet, already taken from the connection.
  std::size_t pending_size() const { return pending_.size(); }

  // max_command_rate: lines (commands, and over-long lines) per second on average; a burst of
  // one second's worth passes at once, and beyond it ReadLine waits before returning a line.
  // 0: no limit.
  void SetCommandRate(unsigned per_second);

  // log_ftp_protocol: log every reply sent, and LogCommand every command read.
  static void SetProtocolLog(bool on);
  static void LogCommand(std::string_view line);

 private:
  int fd_;
  std::string pending_;      // consumed bytes of a line whose end has not arrived yet
  std::size_t peeked_bytes_ = 0;
  // The command rate's token bucket, in thousandths of a command.
  void PayForLine();
  unsigned rate_ = 0;
  long tokens_milli_ = 0;
  long refilled_ms_ = 0;
  bool throttle_logged_ = false;
};

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_CMDIO_H_
