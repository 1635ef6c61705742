// Log sinks: journald or stderr in the monitor, the monitor channel in jails. Shared.
#include "log.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ipc.h"
#include "no_destructor.h"
#include "strutil.h"
#include "requests.h"

namespace keepftpd {

namespace {

enum class Sink { kStderr, kJournal, kSyslog, kJail, kNone };
Sink g_sink = Sink::kStderr;
void WriteVsftpdLogs(const LogEvent& e, bool from_jail);
int g_channel = -1;
int g_journal = -1;  // connected to journald's native socket (kJournal)

constexpr char kJournalSocket[] = "/run/systemd/journal/socket";

// One journal record in the journal's native protocol (systemd's JOURNAL_NATIVE_PROTOCOL, its
// stable interface for clients): a line "NAME=value" per field, or, for a value holding a
// newline, "NAME", a newline, the value's length as 64-bit little-endian, the value and a
// newline. Sent as one datagram on a socket connected once, when the sink is chosen. (Not
// sd_journal_send(): it addresses the socket by its path in every sendmsg(), which the session's
// monitor, chrooted into an empty directory, cannot reach.) journald adds the trusted fields
// (_PID, _UID, _COMM, ...) from the socket's credentials.
class JournalRecord {
 public:
  JournalRecord& Field(std::string_view name, std::string_view value) {
    data_.append(name);
    if (value.find('\n') == std::string_view::npos) {
      data_ += '=';
      data_.append(value);
    } else {
      data_ += '\n';
      std::uint64_t n = value.size();
      for (int i = 0; i < 8; ++i) data_ += static_cast<char>((n >> (8 * i)) & 0xff);
      data_.append(value);
    }
    data_ += '\n';
    return *this;
  }
  // Lost, as with sd_journal_send(), when journald is gone or its queue overflows (the socket
  // is blocking: a busy journald slows the writer down instead).
  void Send() const {
    ssize_t ignored = send(g_journal, data_.data(), data_.size(), MSG_NOSIGNAL);
    (void)ignored;
  }

 private:
  std::string data_;
};

int ConnectJournal() {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, kJournalSocket, sizeof(kJournalSocket));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}
void (*g_fatal_hook)() = nullptr;

LogContext& Context() {
  static NoDestructor<LogContext> context;  // records may be written while the process exits
  return *context;
}

// source: "monitor", or "jail" for what a jail sent (LogFromJail).
void WriteMonitorRecord(int priority, std::string_view process, std::string_view message,
                        const char* func, unsigned line, const LogEvent* event = nullptr,
                        const char* source = "monitor") {
  LogContext& c = Context();
  std::string text = SanitizeForLog(message);
  const bool from_jail = std::string_view(source) == "jail";
  if (event != nullptr) WriteVsftpdLogs(*event, from_jail);
  if (g_sink == Sink::kJournal) {
    // Plain journalctl shows MESSAGE alone: each names the client (the other sinks put the
    // address first). A text that names it already, as a failed login's does, is left as it is.
    if (!c.remote_addr.empty() && text.find(c.remote_addr) == std::string::npos) {
      text += " (client " + c.remote_addr + ")";
    }
    JournalRecord r;
    r.Field("MESSAGE", text)
        .Field("PRIORITY", std::to_string(priority))
        .Field("SYSLOG_IDENTIFIER", "keepftpd")
        .Field("FTP_SESSION", c.session_id)
        .Field("REMOTE_ADDR", c.remote_addr)
        .Field("REMOTE_PORT", c.remote_port)
        .Field("FTP_USER", LogName(c.user))
        .Field("FTP_PROCESS", process);
    if (event != nullptr) {
      std::string path = event->path;
      if (event->command == "RNTO" && !event->target.empty()) path += " -> " + event->target;
      r.Field("FTP_COMMAND", SanitizeForLog(event->command)).Field("FTP_PATH", LogName(path));
      if (!event->login_user.empty()) r.Field("FTP_LOGIN_USER", LogName(event->login_user));
      if (event->command == "SITE CHMOD") r.Field("FTP_MODE", LogName(event->target));
      r.Field("FTP_BYTES", event->bytes >= 0 ? std::to_string(event->bytes) : "")
          .Field("FTP_DURATION_USEC",
                 event->duration_usec >= 0 ? std::to_string(event->duration_usec) : "")
          .Field("FTP_RESULT", SanitizeForLog(event->result));
    }
    r.Field("FTP_SOURCE", source);
    // Where in keepftpd the record was written; none for events and a jail's records, which no
    // line of the monitor's code states.
    if (line != 0) r.Field("CODE_FUNC", func).Field("CODE_LINE", std::to_string(line));
    r.Send();
  } else if (g_sink == Sink::kSyslog || g_sink == Sink::kStderr) {
    // "ADDR:PORT PROCESS: text"; a jail's text names its jail already ("session jail: ...").
    std::string record = c.remote_addr.empty() ? "" : c.remote_addr + ":" + c.remote_port + " ";
    if (!from_jail) record += std::string(process) + ": ";
    record += text;
    if (g_sink == Sink::kSyslog) {
      syslog(priority, "%s", record.c_str());
      return;
    }
    std::string out = "keepftpd[" + std::to_string(getpid()) + "] " + record + "\n";
    ssize_t ignored = write(2, out.data(), out.size());
    (void)ignored;
  }
}

}  // namespace

namespace {
int g_vsftpd_log = -1;
int g_xferlog = -1;
bool g_vsftpd_to_syslog = false;
}  // namespace

void UseTransferLogs(int vsftpd_log_fd, int xferlog_fd, bool vsftpd_to_syslog) {
  g_vsftpd_log = vsftpd_log_fd;
  g_xferlog = xferlog_fd;
  g_vsftpd_to_syslog = vsftpd_to_syslog;
}

namespace {

void AppendLine(int fd, const std::string& line) {
  ssize_t ignored = write(fd, line.data(), line.size());  // O_APPEND: one line, one write
  (void)ignored;
}

std::string Now() {
  time_t now = time(nullptr);
  struct tm tm = {};
  localtime_r(&now, &tm);
  char when[64];
  strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
  return when;
}

// What vsftpd calls the action an event records, or "" when vsftpd writes no line for it. A
// jail reports transfers and changes to files only: connections and logins are the monitor's.
std::string_view VsftpdKind(const LogEvent& e, bool from_jail) {
  const std::string& c = e.command;
  if (c == "RETR") return "DOWNLOAD";
  if (c == "STOR" || c == "APPE" || c == "STOU") return "UPLOAD";
  if (c == "MKD") return "MKDIR";
  if (c == "RMD") return "RMDIR";
  if (c == "DELE") return "DELETE";
  if (c == "RNTO" || (c == "RNFR" && e.result != "ok")) return "RENAME";
  if (c == "SITE CHMOD") return "CHMOD";
  if (from_jail) return "";
  if (c == "PASS") return "LOGIN";
  if (c == "SESSION" && ((e.result == "start" && e.connect_line) || e.result == "proxied")) {
    return "CONNECT";
  }
  return "";
}

// A line as vsftpd's vsf_log_do_log_vsftpd_format writes it, without the time and pid:
//   [user] OK UPLOAD: Client "192.0.2.1", "/pub/file", 3000 bytes, 1234.56Kbyte/sec
// The user is the session's (for a failed login, the name tried); "N bytes" only when some
// were; a rename has both names in one pair of quotes, a chmod the name and the mode.
std::string VsftpdLine(const LogEvent& e, std::string_view kind) {
  const LogContext& c = Context();
  const bool ok = e.result == "ok";
  const bool login = kind == "LOGIN", connect = kind == "CONNECT";
  const bool transfer = kind == "DOWNLOAD" || kind == "UPLOAD";
  std::string user = login && !ok ? e.login_user : c.user;
  std::string line;
  if (!user.empty()) {
    // ']' too: fail2ban's vsftpd filter reads the user up to the first ']'.
    for (char& ch : user) {
      if (ch == ']') ch = '?';
    }
    line += "[" + LogName(user) + "] ";
  }
  if (!connect) line += ok ? "OK " : "FAIL ";
  line += std::string(kind) + ": Client \"" + c.remote_addr + "\"";
  if (login && ok && !c.anon_password.empty()) {
    line += ", anon password \"" + LogName(c.anon_password) + "\"";
  }
  std::string name = login || connect ? "" : e.path;
  if (!name.empty() && !e.target.empty()) name += " " + e.target;
  if (!name.empty()) line += ", \"" + LogName(name) + "\"";
  if (transfer && e.bytes > 0) line += ", " + std::to_string(e.bytes) + " bytes";
  if (transfer) {
    double seconds = e.duration_usec > 0 ? static_cast<double>(e.duration_usec) / 1e6 : 0.1;
    double bytes = e.bytes > 0 ? static_cast<double>(e.bytes) : 0.0;
    char rate[64];
    snprintf(rate, sizeof(rate), ", %.2fKbyte/sec", bytes / seconds / 1024.0);
    line += rate;
  }
  return line;
}

// An upload or download as wu-ftpd's xferlog line: time, seconds, host, bytes, name (spaces as
// '_'), type, '_', direction, access mode, identity (an anonymous user's password, as vsftpd
// writes it), "ftp 0 *", c(omplete) or i(ncomplete).
std::string XferlogLine(const LogEvent& e, bool download) {
  const LogContext& c = Context();
  std::string path = LogName(e.path);
  for (char& ch : path) {
    if (ch == ' ' || ch == '\t') ch = '_';
  }
  long seconds = e.duration_usec > 0 ? static_cast<long>((e.duration_usec + 999999) / 1000000) : 1;
  std::string who = c.access == 'a' && !c.anon_password.empty() ? c.anon_password : c.user;
  who = who.empty() ? "*" : LogName(who);
  for (char& ch : who) {
    if (ch == ' ' || ch == '\t') ch = '_';
  }
  const char type = e.transfer_type == 'a' ? 'a' : 'b';
  const std::int64_t bytes = e.bytes > 0 ? e.bytes : 0;
  return Now() + " " + std::to_string(seconds) + " " + c.remote_addr + " " + std::to_string(bytes) +
         " " + path + " " + type + " _ " + (download ? "o" : "i") + " " + c.access + " " + who +
         " ftp 0 * " + (e.result == "ok" ? "c" : "i") + "\n";
}

void WriteVsftpdLogs(const LogEvent& e, bool from_jail) {
  if (g_vsftpd_log < 0 && g_xferlog < 0 && !g_vsftpd_to_syslog) return;
  const std::string_view kind = VsftpdKind(e, from_jail);
  if (kind.empty()) return;
  const std::string line = VsftpdLine(e, kind);
  if (g_vsftpd_log >= 0) {
    AppendLine(g_vsftpd_log, Now() + " [pid " + std::to_string(getpid()) + "] " + line + "\n");
  }
  if (g_vsftpd_to_syslog && kind != "CONNECT") {  // vsftpd sends no CONNECT line to syslog
    const bool failed_login = kind == "LOGIN" && e.result != "ok";
    syslog(failed_login ? LOG_WARNING : LOG_INFO, "%s", line.c_str());  // syslog adds time, pid
  }
  if (g_xferlog >= 0 && (kind == "DOWNLOAD" || kind == "UPLOAD")) {
    AppendLine(g_xferlog, XferlogLine(e, kind == "DOWNLOAD"));
  }
}

}  // namespace

void UseMonitorLogSink(bool stderr_usable) {
  if (g_journal < 0) g_journal = ConnectJournal();
  if (g_journal >= 0) {
    g_sink = Sink::kJournal;
  } else {
    g_sink = stderr_usable ? Sink::kStderr : Sink::kNone;
  }
  if (Context().process.empty()) Context().process = "monitor";
}

void UseSyslog() {
  openlog("keepftpd", LOG_PID | LOG_NDELAY, LOG_FTP);
  if (g_sink != Sink::kJournal) g_sink = Sink::kSyslog;
}

LogContext& MonitorLogContext() { return Context(); }

void UseJailLogSink(int channel_fd) {
  g_sink = Sink::kJail;
  g_channel = channel_fd;
}

void Log(int priority, std::string_view message, std::source_location where) {
  if (g_sink == Sink::kJail) {
    const LogRequest log{static_cast<std::uint8_t>(priority), std::string(message)};
    SendMessage(g_channel, MsgType::kLog, Encode(log));
    return;
  }
  WriteMonitorRecord(priority, Context().process, message, where.function_name(), where.line());
}

void LogEventRecord(int priority, std::string_view message, const LogEvent& event) {
  if (g_sink == Sink::kJail) {
    EventRequest e;
    e.priority = static_cast<std::uint8_t>(priority);
    e.text = message;
    e.command = event.command;
    e.path = event.path;
    e.target = event.target;
    e.bytes = static_cast<std::uint64_t>(event.bytes);
    e.duration_usec = static_cast<std::uint64_t>(event.duration_usec);
    e.result = event.result;
    e.transfer_type = event.transfer_type;
    SendMessage(g_channel, MsgType::kEvent, Encode(e));
    return;
  }
  WriteMonitorRecord(priority, Context().process, message, "event", 0, &event);
}

namespace {

int JailPriority(int priority) { return priority < kMaxJailPriority ? kMaxJailPriority : priority; }

std::string JailText(std::string_view jail, std::string_view message) {
  return std::string(jail) + " jail: " + std::string(message);
}

}  // namespace

void LogEventFromJail(int priority, std::string_view jail, std::string_view message,
                      const LogEvent& event) {
  const LogContext& c = Context();
  std::string text = JailText(jail, message) + " (client " + c.remote_addr;
  if (!c.user.empty()) text += ", user \"" + LogName(c.user) + "\"";
  text += ")";
  WriteMonitorRecord(JailPriority(priority), jail, text, "jail", 0, &event, "jail");
}

void LogFromJail(int priority, std::string_view jail, std::string_view message) {
  WriteMonitorRecord(JailPriority(priority), jail, JailText(jail, message), "jail", 0, nullptr,
                     "jail");
}

void SetFatalHook(void (*hook)()) { g_fatal_hook = hook; }

void Fatal(std::string_view message, std::source_location where) {
  Log(kLogErr, message, where);
  if (g_fatal_hook != nullptr) g_fatal_hook();
  _exit(1);
}

}  // namespace keepftpd
