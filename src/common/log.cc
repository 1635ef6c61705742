// Log sinks: journald or stderr in the monitor, the monitor channel in jails. Shared.
#include "log.h"

// The caller's location is passed explicitly (CODE_FUNC, CODE_LINE), not this file's.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include <time.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "ipc.h"
#include "no_destructor.h"
#include "strutil.h"
#include "requests.h"

namespace keepftpd {

namespace {

enum class Sink { kStderr, kJournal, kSyslog, kJail, kNone };
Sink g_sink = Sink::kStderr;
void WriteTransferLogs(const LogEvent& e);
int g_channel = -1;
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
  if (event != nullptr) WriteTransferLogs(*event);
  if (g_sink == Sink::kJournal && event != nullptr) {
    std::string command = SanitizeForLog(event->command), path = SanitizeForLog(event->path);
    std::string result = SanitizeForLog(event->result);
    std::string bytes = event->bytes >= 0 ? std::to_string(event->bytes) : "";
    std::string usec = event->duration_usec >= 0 ? std::to_string(event->duration_usec) : "";
    sd_journal_send("MESSAGE=%s", text.c_str(), "PRIORITY=%d", priority,
                    "SYSLOG_IDENTIFIER=keepftpd", "FTP_SESSION=%s", c.session_id.c_str(),
                    "REMOTE_ADDR=%s", c.remote_addr.c_str(), "REMOTE_PORT=%s",
                    c.remote_port.c_str(), "FTP_USER=%s", c.user.c_str(), "FTP_PROCESS=%.*s",
                    static_cast<int>(process.size()), process.data(), "FTP_COMMAND=%s",
                    command.c_str(), "FTP_PATH=%s", path.c_str(), "FTP_BYTES=%s", bytes.c_str(),
                    "FTP_DURATION_USEC=%s", usec.c_str(), "FTP_RESULT=%s", result.c_str(),
                    "FTP_SOURCE=%s", source, "CODE_FUNC=%s", func, "CODE_LINE=%u", line,
                    nullptr);
  } else if (g_sink == Sink::kJournal) {
    sd_journal_send("MESSAGE=%s", text.c_str(), "PRIORITY=%d", priority,
                    "SYSLOG_IDENTIFIER=keepftpd", "FTP_SESSION=%s", c.session_id.c_str(),
                    "REMOTE_ADDR=%s", c.remote_addr.c_str(), "REMOTE_PORT=%s",
                    c.remote_port.c_str(), "FTP_USER=%s", c.user.c_str(), "FTP_PROCESS=%.*s",
                    static_cast<int>(process.size()), process.data(), "FTP_SOURCE=%s", source,
                    "CODE_FUNC=%s", func, "CODE_LINE=%u", line, nullptr);
  } else if (g_sink == Sink::kSyslog || g_sink == Sink::kStderr) {
    // "ADDR:PORT PROCESS: text"; a jail's text names its jail already ("session jail: ...").
    std::string record = c.remote_addr.empty() ? "" : c.remote_addr + ":" + c.remote_port + " ";
    if (std::string_view(source) != "jail") record += std::string(process) + ": ";
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

// One line per upload or download, in vsftpd's format and/or wu-ftpd's xferlog format.
void WriteTransferLogs(const LogEvent& e) {
  const bool download = e.command == "RETR";
  const bool upload = e.command == "STOR" || e.command == "APPE" || e.command == "STOU";
  if ((!download && !upload) || e.bytes < 0) return;
  if (g_vsftpd_log < 0 && g_xferlog < 0 && !g_vsftpd_to_syslog) return;
  LogContext& c = Context();
  time_t now = time(nullptr);
  struct tm tm = {};
  localtime_r(&now, &tm);
  char when[64];
  strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
  const bool ok = e.result == "ok";
  std::string path = SanitizeForLog(e.path);
  if (g_vsftpd_log >= 0 || g_vsftpd_to_syslog) {
    double seconds = e.duration_usec > 0 ? static_cast<double>(e.duration_usec) / 1e6 : 0.0;
    double kbps = seconds > 0 ? static_cast<double>(e.bytes) / 1024.0 / seconds : 0.0;
    char rate[64];
    snprintf(rate, sizeof(rate), "%.2fKbyte/sec", kbps);
    std::string line = "[" + SanitizeForLog(c.user) + "] " + (ok ? "OK " : "FAIL ") +
                       (download ? "DOWNLOAD" : "UPLOAD") + ": Client \"" + c.remote_addr +
                       "\", \"" + path + "\", " + std::to_string(e.bytes) + " bytes, " + rate;
    if (g_vsftpd_to_syslog) {
      syslog(LOG_INFO, "%s", line.c_str());  // syslog adds the time and the pid
    } else {
      AppendLine(g_vsftpd_log,
                 std::string(when) + " [pid " + std::to_string(getpid()) + "] " + line + "\n");
    }
  }
  if (g_xferlog >= 0) {
    for (char& ch : path) {
      if (ch == ' ' || ch == '\t') ch = '_';
    }
    long seconds = e.duration_usec > 0 ? static_cast<long>((e.duration_usec + 999999) / 1000000) : 1;
    std::string user = c.user.empty() ? "*" : SanitizeForLog(c.user);
    char type = e.transfer_type == 'a' ? 'a' : 'b';
    AppendLine(g_xferlog, std::string(when) + " " + std::to_string(seconds) + " " +
                              c.remote_addr + " " + std::to_string(e.bytes) + " " + path + " " +
                              type + " _ " + (download ? "o" : "i") + " " + c.access + " " +
                              user + " ftp 0 * " + (ok ? "c" : "i") + "\n");
  }
}

}  // namespace

void UseMonitorLogSink(bool stderr_usable) {
  if (access("/run/systemd/journal/socket", W_OK) == 0) {
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
  WriteMonitorRecord(JailPriority(priority), jail, JailText(jail, message), "jail", 0, &event,
                     "jail");
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
