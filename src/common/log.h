// Logging front end: Log() and Fatal() with the caller's function and line. In the monitor the
// sink writes journald records (or stderr lines when there is no journal); in a jail the sink
// sends the text to the monitor over the channel, which adds the trusted fields itself.
// Shared by every process; each process chooses its sink once.
#ifndef KEEPFTPD_SRC_COMMON_LOG_H_
#define KEEPFTPD_SRC_COMMON_LOG_H_

#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>

#include "ipc_messages.h"

namespace keepftpd {

// syslog priorities
enum LogPriority { kLogErr = 3, kLogWarning = 4, kLogNotice = 5, kLogInfo = 6, kLogDebug = 7 };

struct LogContext {
  std::string session_id;   // FTP_SESSION
  std::string remote_addr;  // REMOTE_ADDR
  std::string remote_port;  // REMOTE_PORT
  std::string user;         // FTP_USER, once logged in
  std::string process;      // "monitor", "prelogin", "session"
  char access = 'a';        // xferlog's access mode: a(nonymous), r(eal), g(uest)
  std::string anon_password;  // what an anonymous user gave as password (vsftpd's logs show it)
};

// vsftpd's log files, opened by the entry process (root) before any jail; -1: not wanted. The
// monitor appends to vsftpd_log_fd a line per connection, login, transfer and change to a file,
// in vsftpd's format (CONNECT, OK/FAIL LOGIN, UPLOAD, DOWNLOAD, MKDIR, RMDIR, DELETE, RENAME,
// CHMOD), and to xferlog_fd a line per upload or download in wu-ftpd's xferlog format.
// vsftpd_to_syslog (syslog_enable): the vsftpd-format lines but CONNECT go to syslog too, as
// vsftpd sends them (priority info; warning for a failed login).
void UseTransferLogs(int vsftpd_log_fd, int xferlog_fd, bool vsftpd_to_syslog = false);

// Monitor (and entry) sink: journald when its socket takes a connection (kept for the life of
// the process, so that a chrooted monitor still reaches it), else stderr when stderr_usable.
void UseMonitorLogSink(bool stderr_usable);
// syslog_enable: connects to syslog now (facility ftp, ident keepftpd), before any process
// gives up privileges; without a journal the monitor's records go there instead of stderr.
void UseSyslog();
LogContext& MonitorLogContext();
// Jail sink: records go to the monitor over channel_fd.
void UseJailLogSink(int channel_fd);

void Log(int priority, std::string_view message,
         std::source_location where = std::source_location::current());

// One event of the session, as a structured record: journald fields FTP_COMMAND, FTP_PATH,
// FTP_BYTES, FTP_DURATION_USEC and FTP_RESULT beside the trusted ones the monitor adds.
struct LogEvent {
  std::string command;            // "RETR", "STOR", "CWD", "PASS", "SESSION", ...
  std::string path;               // the file or directory, if any
  std::string target;             // RNTO: the new name; SITE CHMOD: the mode as the client gave it
  std::string login_user;         // PASS: the name the client logged in with (FTP_LOGIN_USER)
  std::int64_t bytes = -1;        // transferred, for transfers
  std::int64_t duration_usec = -1;
  std::string result;             // "ok", "failed", "refused", "aborted", ...
  char transfer_type = 0;         // transfers: 'a' (ASCII) or 'b' (binary), for xferlog
  // SESSION start: vsftpd's CONNECT line now (false with proxy_protocol, where the SESSION
  // "proxied" record writes it once the PROXY header has named the client).
  bool connect_line = true;
};
void LogEventRecord(int priority, std::string_view message, const LogEvent& event);
// The monitor writes a jail's event (fields already bounded by the decoder; the text is
// sanitised here), as LogFromJail writes a jail's record, with the client's address and the
// session's user, which the monitor knows, at the end of the text:
// "session jail: STOR /x: 0 bytes in 12 us, file error (client 192.0.2.1, user \"ftp\")".
void LogEventFromJail(int priority, std::string_view jail, std::string_view message,
                      const LogEvent& event);

// A record the monitor writes on behalf of a jail. Nothing a jail says is trusted for its form
// either: the priority is capped at warning (a jail cannot raise an alert), the text starts with
// "JAIL jail: " (so that no reader, and no fail2ban filter anchored at the start, can take it
// for the monitor's own words), FTP_PROCESS names the jail and FTP_SOURCE is "jail" (the
// monitor's records have "monitor").
void LogFromJail(int priority, std::string_view jail, std::string_view message);
// The most severe priority a jail's record may have.
inline constexpr int kMaxJailPriority = kLogWarning;

// Logs and ends this process with exit status 1. For broken invariants and misbehaving peers.
[[noreturn]] void Fatal(std::string_view message,
                        std::source_location where = std::source_location::current());

// Hook the monitor sets so that Fatal() in the monitor also kills its jail before exiting.
void SetFatalHook(void (*hook)());

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_LOG_H_
