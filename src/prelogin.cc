// The pre-login FTP dialogue. Pre-login jail only (nopriv_user, empty chroot, seccomp).
#include "prelogin.h"

#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "build_config.h"
#include "cmdio.h"
#include "ftp_command.h"
#include "hash.h"
#include "listing.h"
#include "log.h"
#include "monitor_client.h"
#include "strutil.h"
#include "test_hooks.h"

namespace keepftpd {

namespace {

bool IsAnonymousName(std::string_view user) {
  return EqualsIgnoreCase(user, "anonymous") || EqualsIgnoreCase(user, "ftp");
}

bool InCommandList(const std::string& list, std::string_view verb) {
  for (std::string_view item : Split(list, ',')) {
    if (EqualsIgnoreCase(TrimSpaces(item), verb)) return true;
  }
  return false;
}

void SendBanner(ControlConnection& ctrl, const Config& config, const SessionInfo& session) {
  if (!session.banner_text.empty()) {
    std::vector<std::string> lines;
    for (std::string_view l : Split(session.banner_text, '\n')) {
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      lines.emplace_back(l);
    }
    while (lines.size() > 1 && lines.back().empty()) lines.pop_back();
    std::string last = lines.back();
    lines.pop_back();
    std::string out;
    for (const std::string& l : lines) out += "220-" + SanitizeForLog(l) + "\r\n";
    out += "220 " + SanitizeForLog(last) + "\r\n";
    ctrl.SendRaw(out);
  } else if (!config.ftpd_banner.empty()) {
    ctrl.Reply(220, config.ftpd_banner);
  } else {
    ctrl.Reply(220, "(keepftpd " KEEPFTPD_VERSION ")");
  }
}

}  // namespace

std::vector<std::string> FeatureLines(const std::string& mlst_facts, const std::string& hashes) {
  return {" EPRT", " EPSV", " HASH " + hashes, " HOST", " MDTM", " MFMT", " MLST " + mlst_facts,
          " PASV", " REST STREAM", " SIZE", " TVFS", " UTF8"};
}

bool CommandPermitted(const Config& config, std::string_view verb) {
  if (!config.cmds_denied.empty() && InCommandList(config.cmds_denied, verb)) return false;
  if (!config.cmds_allowed.empty() && !InCommandList(config.cmds_allowed, verb)) return false;
  return true;
}

void RunPrelogin(const Config& config, const SessionInfo& session, int channel, bool reinit) {
  ControlConnection ctrl(session.control_fd);
  if (reinit) {
    ctrl.Reply(220, "Ready for new user.");
  } else {
    SendBanner(ctrl, config, session);
  }
  std::string user;
  bool user_given = false;
  while (true) {
    std::string line;
    switch (ctrl.ReadLine(&line, config.idle_session_timeout)) {
      case ControlConnection::ReadOutcome::kLine: break;
      case ControlConnection::ReadOutcome::kTooLong:
        ctrl.Reply(500, "Command line too long.");
        continue;
      case ControlConnection::ReadOutcome::kTimeout:
        ctrl.Reply(421, "Timeout.");
        _exit(0);
      case ControlConnection::ReadOutcome::kClosed:
        _exit(0);
    }
    FtpCommand cmd = ParseCommandLine(line);
    const std::string& v = cmd.verb;
    if (v.empty()) {
      ctrl.Reply(500, "Unknown command.");
      continue;
    }
    if (!CommandPermitted(config, v)) {
      ctrl.Reply(550, "Permission denied.");
      continue;
    }
    if (TestHook(cmd, channel, false)) {
      ctrl.Reply(200, "Test hook ran: the jail has no seccomp filter.");
      continue;
    }
    if (v == "USER") {
      if (cmd.arg.empty()) {
        ctrl.Reply(501, "Give a user name.");
        continue;
      }
      user = cmd.arg;
      user_given = false;
      bool anonymous = config.anonymous_enable && IsAnonymousName(user);
      if (!anonymous && !config.local_enable) {
        ctrl.Reply(530, config.anonymous_enable ? "This FTP server is anonymous only."
                                                : "Login incorrect.");
        continue;
      }
      // As vsftpd: a user the user list refuses is refused here, before a password is asked.
      if (!anonymous && !UserListAllows(config, session.user_list, user)) {
        ctrl.Reply(530, "Permission denied.");
        continue;
      }
      user_given = true;
      if (anonymous && config.no_anon_password) {
        LoginAnswer a = RequestLogin(channel, user, "");
        if (a.ok) _exit(0);  // the session jail greets the user
        ctrl.Reply(530, a.message);
        if (a.close) _exit(0);
        user_given = false;
        continue;
      }
      ctrl.Reply(331, "Please specify the password.");
    } else if (v == "PASS") {
      if (!user_given) {
        ctrl.Reply(503, "Login with USER first.");
        continue;
      }
      LoginAnswer a = RequestLogin(channel, user, cmd.arg);
      explicit_bzero(cmd.arg.data(), cmd.arg.size());
      explicit_bzero(line.data(), line.size());
      if (a.ok) _exit(0);  // the session jail greets the user
      ctrl.Reply(530, a.message);
      if (a.close) _exit(0);
      user_given = false;
    } else if (v == "QUIT") {
      ctrl.Reply(221, "Goodbye.");
      _exit(0);
    } else if (v == "FEAT") {
      ctrl.ReplyMulti(211, "Features:", FeatureLines(MlstFacts().FeatString(), HashFeatString(HashAlgorithm::kSha256)), "End");
    } else if (v == "OPTS") {
      std::string arg = AsciiUpper(TrimSpaces(cmd.arg));
      if (arg == "UTF8 ON" || arg == "UTF8") {
        ctrl.Reply(200, "Always in UTF8 mode.");
      } else {
        ctrl.Reply(530, "Please login with USER and PASS.");
      }
    } else if (v == "HOST") {
      if (user_given) {
        ctrl.Reply(503, "HOST must come before USER.");
      } else if (TrimSpaces(cmd.arg).empty()) {
        ctrl.Reply(501, "Give a host name.");
      } else {
        ctrl.Reply(220, "Host accepted.");
      }
    } else if (v == "NOOP") {
      ctrl.Reply(200, "NOOP ok.");
    } else if (v == "AUTH") {
      ctrl.Reply(502, "AUTH is not supported: TLS is not enabled on this server.");
    } else {
      ctrl.Reply(530, "Please login with USER and PASS.");
    }
  }
}

}  // namespace keepftpd
