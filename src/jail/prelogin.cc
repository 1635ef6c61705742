// The pre-login FTP dialogue. Pre-login jail only (nopriv_user, empty chroot, seccomp).
#include "prelogin.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "cmdio.h"
#include "ftp_features.h"
#include "ftp_command.h"
#include "hash.h"
#include "listing.h"
#include "log.h"
#include "login_rules.h"
#include "monitor_client.h"
#include "proxy_protocol.h"
#include "strutil.h"
#include "test_hooks.h"

namespace keepftpd {

namespace {

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

// proxy_protocol: the balancer's header comes before anything else, within
// kProxyHeaderSeconds. It is looked at with MSG_PEEK and exactly its bytes are consumed, so
// nothing after it is lost. A missing, late or malformed header ends the connection; the
// monitor decides about the rest (a LOCAL header, used by health checks, gets the banner only).
// Returns false for a LOCAL header (no client behind it).
bool ReadProxyHeader(int fd, int channel, ControlConnection& ctrl) {
  ProxyHeader header;
  std::string bytes, error;
  switch (ReceiveProxyHeader(fd, &header, &bytes, &error)) {
    case ProxyParse::kNeedMore: _exit(0);  // gone
    case ProxyParse::kBad:
      Log(kLogNotice, "connection refused: " + error + " (proxy_protocol)");
      _exit(0);
    case ProxyParse::kOk: break;
  }
  std::string reply;
  if (!RequestProxyInfo(channel, header, &reply)) {
    if (!reply.empty()) ctrl.SendRaw(reply);
    _exit(0);
  }
  return header.kind == ProxyHeader::Kind::kProxy;
}

void RunPrelogin(const Config& config, const SessionInfo& session, int channel,
                 PreloginGreeting greeting, bool tls) {
  ControlConnection ctrl(session.control_fd);
  ControlConnection::SetProtocolLog(config.log_ftp_protocol);
  ctrl.SetCommandRate(config.max_command_rate);
  ProtState prot;
  if (greeting == PreloginGreeting::kReinit) {
    ctrl.Reply(220, "Ready for new user.");
  } else {
    const bool client = !config.proxy_protocol || ReadProxyHeader(session.control_fd, channel, ctrl);
    SendBanner(ctrl, config, session);
    if (!client) _exit(0);  // a balancer's health check: the banner, and nothing more
  }
  std::string user;
  bool user_given = false;
  while (true) {
    std::string line;
    switch (ctrl.ReadLine(&line, config.idle_session_timeout)) {
      case ControlConnection::ReadOutcome::kLine: break;
      case ControlConnection::ReadOutcome::kTooLong:
        ctrl.EndTooLong();
      case ControlConnection::ReadOutcome::kTimeout:
        ctrl.Reply(421, "Timeout.");
        _exit(0);
      case ControlConnection::ReadOutcome::kClosed:
        _exit(0);
    }
    ControlConnection::LogCommand(line);
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
      // A name refused here, before a password is asked (as vsftpd does), is a failed login
      // all the same: the monitor, which applies these rules again, refuses it as one (its
      // record, delay and count), and its words are the reply.
      const bool refused =
          // FTPS rules at USER, as vsftpd has them.
          TlsLoginRefusal(config, anonymous, tls) != nullptr ||
          (!anonymous && !config.local_enable) ||
          // As vsftpd: a user the user list refuses.
          (!anonymous && !UserListAllows(config, session.user_list, user));
      if (refused) {
        LoginResult a = RequestLogin(channel, user, "", prot.private_data);
        if (a.ok) _exit(0);  // not with the monitor's rules; the session jail would greet
        ctrl.Reply(530, a.message);
        if (a.close) _exit(0);
        continue;
      }
      user_given = true;
      if (anonymous && config.no_anon_password) {
        LoginResult a = RequestLogin(channel, user, "", prot.private_data);
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
      LoginResult a = RequestLogin(channel, user, cmd.arg, prot.private_data);
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
      ctrl.ReplyMulti(211, "Features:", FeatureLines(MlstFacts().FeatString(), HashFeatString(HashAlgorithm::kSha256),
                               config.ssl_enable), "End");
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
      std::string mech = AsciiUpper(TrimSpaces(cmd.arg));
      if (!config.ssl_enable) {
        ctrl.Reply(502, "AUTH is not supported: TLS is not enabled on this server.");
      } else if (tls) {
        ctrl.Reply(503, "Already using TLS.");
      } else if (mech != "TLS" && mech != "SSL" && mech != "TLS-C" && mech != "TLS-P") {
        ctrl.Reply(504, "Unknown AUTH mechanism; use AUTH TLS.");
      } else {
        StartTlsAnswer a = RequestStartTls(channel);
        if (!a.ok) {
          ctrl.Reply(431, a.message);
          continue;
        }
        ctrl.Reply(234, "Proceed with negotiation.");
        // From here on the control connection is the TLS jail's plaintext end.
        if (dup2(a.plain_control.get(), session.control_fd) < 0) _exit(1);
        a.plain_control.Reset();
        tls = true;
        user_given = false;
      }
    } else if (v == "PBSZ") {
      HandlePbsz(ctrl, tls, cmd.arg, &prot);
    } else if (v == "PROT") {
      HandleProt(ctrl, tls, cmd.arg, &prot);
    } else if (v == "CCC") {
      ctrl.Reply(534, "CCC refused: the control connection stays encrypted.");
    } else {
      ctrl.Reply(530, "Please login with USER and PASS.");
    }
  }
}

}  // namespace keepftpd
