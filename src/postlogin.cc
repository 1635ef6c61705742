// The logged-in FTP command loop. Session jail only: the user's uid, chrooted into the user's
// root, seccomp-filtered. Paths are resolved as strings against the session's current
// directory; the chroot is what confines them. Data connections come from the monitor.
#include "postlogin.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <set>

#include "build_config.h"
#include "cmdio.h"
#include "dataio.h"
#include "ftp_command.h"
#include "ftp_path.h"
#include "listing.h"
#include "log.h"
#include "monitor_client.h"
#include "prelogin.h"
#include "strutil.h"
#include "test_hooks.h"

namespace keepftpd {

namespace {

constexpr std::size_t kMaxMessageFile = 4096;

class Session {
 public:
  Session(const Config& config, const SessionInfo& info, int channel)
      : config_(config), info_(info), channel_(channel), ctrl_(info.control_fd) {
    Result<NameFilter> deny = NameFilter::Parse(config.deny_file);
    Result<NameFilter> hide = NameFilter::Parse(config.hide_file);
    if (deny.ok()) deny_ = *deny;
    if (hide.ok()) hide_ = *hide;
    uid_ = getuid();
    gid_ = getgid();
  }

  // Enters the start directory (a 500 and the end of the session if it cannot be entered, as
  // vsftpd does).
  void Start(const std::string& dir) {
    if (dir.empty() || dir == "/") return;
    Result<std::string> path = ResolvePath("/", dir);
    if (!path.ok() || chdir(path->c_str()) != 0) {
      Exit(500, "OOPS: cannot change to the start directory " + SanitizeForLog(dir));
    }
    cwd_ = *path;
  }
  [[noreturn]] void Run();

 private:
  using Handler = void (Session::*)(const FtpCommand&);
  static const std::map<std::string, Handler>& Commands();

  // ---- helpers ----
  bool Resolve(std::string_view arg, std::string* out) {
    Result<std::string> r = ResolvePath(cwd_, arg);
    if (!r.ok()) return false;
    *out = std::move(*r);
    return true;
  }
  bool Denied(const std::string& path) const { return deny_.MatchesAnyComponent(path); }
  [[noreturn]] void Exit(int code, std::string_view text) {
    ctrl_.Reply(code, text);
    _exit(0);
  }
  ListFormat Format() const {
    ListFormat f;
    f.hide_ids = config_.hide_ids;
    f.use_localtime = config_.use_localtime;
    f.now = time(nullptr);
    return f;
  }
  UniqueFd OpenDataConnection(std::string_view reply150);
  void FinishTransfer(TransferResult r, std::string_view ok_text);
  void ShowDirMessage(const std::string& dir, std::vector<std::string>* lines);
  bool ChangeDir(std::string_view arg);
  enum class ListKind { kList, kNlst, kMlsd };
  void DoList(const FtpCommand& cmd, ListKind kind);
  bool CollectListing(std::string_view arg, ListKind kind, bool stat_mode, std::string* out,
                      int* fail_code, std::string* fail_text);

  // ---- commands ----
  void Pwd(const FtpCommand&) {
    ctrl_.Reply(257, "\"" + QuoteForReply(cwd_) + "\" is the current directory");
  }
  void Cwd(const FtpCommand& c) { ChangeDir(c.arg); }
  void Cdup(const FtpCommand&) { ChangeDir(".."); }
  void Syst(const FtpCommand&) { ctrl_.Reply(215, "UNIX Type: L8"); }
  void Noop(const FtpCommand&) { ctrl_.Reply(200, "NOOP ok."); }
  void Feat(const FtpCommand&) { ctrl_.ReplyMulti(211, "Features:", FeatureLines(mlst_.FeatString()), "End"); }
  void Opts(const FtpCommand& c);
  void Help(const FtpCommand&);
  void Stat(const FtpCommand& c);
  void Type(const FtpCommand& c);
  void Mode(const FtpCommand& c) {
    if (IsModeStream(c.arg)) ctrl_.Reply(200, "Mode set to S.");
    else ctrl_.Reply(504, "Bad MODE command.");
  }
  void Stru(const FtpCommand& c) {
    if (IsStruFile(c.arg)) ctrl_.Reply(200, "Structure set to F.");
    else ctrl_.Reply(504, "Bad STRU command.");
  }
  void Allo(const FtpCommand&) { ctrl_.Reply(202, "ALLO command ignored."); }
  void Rest(const FtpCommand& c);
  void Pasv(const FtpCommand& c);
  void Epsv(const FtpCommand& c);
  void Port(const FtpCommand& c);
  void Eprt(const FtpCommand& c);
  void List(const FtpCommand& c) { DoList(c, ListKind::kList); }
  void Nlst(const FtpCommand& c) { DoList(c, ListKind::kNlst); }
  void Mlsd(const FtpCommand& c) { DoList(c, ListKind::kMlsd); }
  void Mlst(const FtpCommand& c);
  void Size(const FtpCommand& c);
  void Mdtm(const FtpCommand& c);
  void Retr(const FtpCommand& c);
  void Abor(const FtpCommand&) {
    data_mode_ = DataMode::kNone;
    ctrl_.Reply(225, "No transfer to ABOR.");
  }
  void Host(const FtpCommand&) { ctrl_.Reply(503, "HOST must come before USER."); }
  // A new login needs a privileged monitor, and the monitor gave up its privileges when this
  // session started (see monitor.cc). vsftpd does not implement REIN either.
  void Rein(const FtpCommand&) {
    ctrl_.Reply(502, "REIN not implemented: QUIT and connect again to log in as someone else.");
  }
  void User(const FtpCommand&) { ctrl_.Reply(530, "Can't change to another user."); }
  void Pass(const FtpCommand&) { ctrl_.Reply(230, "Already logged in."); }
  void Quit(const FtpCommand&) { Exit(221, "Goodbye."); }
  void WriteDenied(const FtpCommand&) { ctrl_.Reply(550, "Permission denied."); }
  void NotImplemented(const FtpCommand&) { ctrl_.Reply(502, "Command not implemented."); }

  const Config& config_;
  const SessionInfo& info_;
  int channel_;
  ControlConnection ctrl_;
  NameFilter deny_, hide_;
  uid_t uid_;
  gid_t gid_;

  std::string cwd_ = "/";
  TransferType type_ = TransferType::kAscii;
  std::uint64_t rest_ = 0;
  enum class DataMode { kNone, kPasv, kPort } data_mode_ = DataMode::kNone;
  SockAddr port_target_;
  bool epsv_all_ = false;
  MlstFacts mlst_;
  std::set<std::string> messages_shown_;
};

const std::map<std::string, Session::Handler>& Session::Commands() {
  static const std::map<std::string, Handler> table = {
      {"ABOR", &Session::Abor}, {"ACCT", &Session::NotImplemented},
      {"ALLO", &Session::Allo}, {"APPE", &Session::WriteDenied},
      {"CDUP", &Session::Cdup}, {"CWD", &Session::Cwd},
      {"DELE", &Session::WriteDenied}, {"EPRT", &Session::Eprt},
      {"EPSV", &Session::Epsv}, {"FEAT", &Session::Feat},
      {"HELP", &Session::Help}, {"HOST", &Session::Host},
      {"LIST", &Session::List}, {"MDTM", &Session::Mdtm},
      {"MKD", &Session::WriteDenied}, {"MLSD", &Session::Mlsd},
      {"MLST", &Session::Mlst}, {"MODE", &Session::Mode},
      {"NLST", &Session::Nlst}, {"NOOP", &Session::Noop},
      {"OPTS", &Session::Opts}, {"PASS", &Session::Pass},
      {"PASV", &Session::Pasv}, {"PORT", &Session::Port},
      {"PWD", &Session::Pwd}, {"QUIT", &Session::Quit},
      {"REIN", &Session::Rein}, {"REST", &Session::Rest},
      {"RETR", &Session::Retr}, {"RMD", &Session::WriteDenied},
      {"RNFR", &Session::WriteDenied}, {"RNTO", &Session::WriteDenied},
      {"SITE", &Session::WriteDenied}, {"SIZE", &Session::Size},
      {"SMNT", &Session::NotImplemented}, {"STAT", &Session::Stat},
      {"STOR", &Session::WriteDenied}, {"STOU", &Session::WriteDenied},
      {"STRU", &Session::Stru}, {"SYST", &Session::Syst},
      {"TYPE", &Session::Type}, {"USER", &Session::User},
      {"XCUP", &Session::Cdup}, {"XCWD", &Session::Cwd},
      {"XMKD", &Session::WriteDenied}, {"XPWD", &Session::Pwd},
      {"XRMD", &Session::WriteDenied},
  };
  return table;
}

void Session::Run() {
  ctrl_.Reply(230, "Login successful.");
  while (true) {
    std::string line;
    switch (ctrl_.ReadLine(&line, config_.idle_session_timeout)) {
      case ControlConnection::ReadOutcome::kLine: break;
      case ControlConnection::ReadOutcome::kTooLong:
        ctrl_.Reply(500, "Command line too long.");
        continue;
      case ControlConnection::ReadOutcome::kTimeout:
        Exit(421, "Timeout.");
      case ControlConnection::ReadOutcome::kClosed:
        _exit(0);
    }
    FtpCommand cmd = ParseCommandLine(line);
    if (TestHook(cmd, channel_, true)) {
      ctrl_.Reply(200, "Test hook ran: the jail has no seccomp filter.");
      continue;
    }
    auto it = Commands().find(cmd.verb);
    if (cmd.verb.empty() || it == Commands().end()) {
      ctrl_.Reply(500, "Unknown command.");
      continue;
    }
    if (!CommandPermitted(config_, cmd.verb)) {
      ctrl_.Reply(550, "Permission denied.");
      continue;
    }
    (this->*(it->second))(cmd);
  }
}

// ---- navigation ----

void Session::ShowDirMessage(const std::string& dir, std::vector<std::string>* lines) {
  if (!config_.dirmessage_enable || messages_shown_.count(dir) != 0) return;
  std::string path = dir == "/" ? "/" + config_.message_file : dir + "/" + config_.message_file;
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  UniqueFd file(fd);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
  std::string text(kMaxMessageFile, '\0');
  ssize_t n = read(fd, text.data(), text.size());
  if (n <= 0) return;
  text.resize(static_cast<std::size_t>(n));
  messages_shown_.insert(dir);
  for (std::string_view l : Split(text, '\n')) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines->push_back(SanitizeForLog(l));
  }
  if (!lines->empty() && lines->back().empty()) lines->pop_back();
}

bool Session::ChangeDir(std::string_view arg) {
  std::string path;
  if (!Resolve(arg, &path) || Denied(path)) {
    ctrl_.Reply(550, "Failed to change directory.");
    return false;
  }
  struct stat st;
  // chdir asks the kernel the real question: is it a directory this user may enter?
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || chdir(path.c_str()) != 0) {
    ctrl_.Reply(550, "Failed to change directory.");
    return false;
  }
  cwd_ = path;
  std::vector<std::string> lines;
  ShowDirMessage(path, &lines);
  if (lines.empty()) {
    ctrl_.Reply(250, "Directory successfully changed.");
  } else {
    // As vsftpd: every line of the message file as a "250-" line, then the final line.
    std::string out;
    for (const std::string& l : lines) out += "250-" + SanitizeForLog(l) + "\r\n";
    out += "250 Directory successfully changed.\r\n";
    ctrl_.SendRaw(out);
  }
  return true;
}

// ---- simple commands ----

void Session::Opts(const FtpCommand& c) {
  std::string_view arg = TrimSpaces(c.arg);
  std::string upper = AsciiUpper(arg);
  if (upper == "UTF8 ON" || upper == "UTF8") {
    ctrl_.Reply(200, "Always in UTF8 mode.");
  } else if (upper == "UTF8 OFF") {
    ctrl_.Reply(504, "UTF8 cannot be turned off.");
  } else if (upper == "MLST" || StartsWith(upper, "MLST ")) {
    mlst_ = MlstFacts::Parse(upper.size() > 5 ? arg.substr(5) : std::string_view());
    ctrl_.Reply(200, "MLST OPTS " + mlst_.EnabledString());
  } else {
    ctrl_.Reply(501, "Option not understood.");
  }
}

void Session::Help(const FtpCommand&) {
  std::vector<std::string> lines;
  std::string row;
  int n = 0;
  for (const auto& [verb, handler] : Commands()) {
    std::string cell = verb;
    cell.resize(5, ' ');
    row += cell;
    if (++n % 14 == 0) {
      lines.push_back(" " + row);
      row.clear();
    }
  }
  if (!row.empty()) lines.push_back(" " + row);
  ctrl_.ReplyMulti(214, "The following commands are recognized.", lines, "Help OK.");
}

void Session::Stat(const FtpCommand& c) {
  if (c.arg.empty()) {
    std::vector<std::string> lines = {
        "     Connected to " + info_.peer.HostString(),
        "     Logged in as " + info_.anonymous.name,
        std::string("     TYPE: ") + (type_ == TransferType::kAscii ? "ASCII" : "BINARY"),
        "     No session bandwidth limit",
        "     Session timeout in seconds is " + std::to_string(config_.idle_session_timeout),
        "     Control connection is plain text",
        "     Data connections will be plain text",
        "     keepftpd " KEEPFTPD_VERSION,
    };
    ctrl_.ReplyMulti(211, "FTP server status:", lines, "End of status");
    return;
  }
  std::string out;
  int code = 0;
  std::string text;
  FtpCommand list = c;
  if (!CollectListing(c.arg, ListKind::kList, true, &out, &code, &text)) {
    ctrl_.Reply(code, text);
    return;
  }
  std::vector<std::string> lines;
  for (std::string_view l : Split(out, '\n')) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (!l.empty()) lines.emplace_back(l);
  }
  ctrl_.ReplyMulti(213, "Status follows:", lines, "End of status");
}

void Session::Type(const FtpCommand& c) {
  TypeParse t = ParseTypeArgument(c.arg);
  if (t.outcome == TypeParse::kOk) {
    type_ = t.type;
    ctrl_.Reply(200, type_ == TransferType::kAscii ? "Switching to ASCII mode."
                                                   : "Switching to Binary mode.");
  } else if (t.outcome == TypeParse::kUnsupported) {
    ctrl_.Reply(504, "Unsupported TYPE.");
  } else {
    ctrl_.Reply(501, "Unrecognised TYPE command.");
  }
}

void Session::Rest(const FtpCommand& c) {
  Result<std::uint64_t> r = ParseRestOffset(TrimSpaces(c.arg));
  if (!r.ok()) {
    ctrl_.Reply(501, "Bad REST offset.");
    return;
  }
  rest_ = *r;
  ctrl_.Reply(350, "Restart position accepted (" + std::to_string(rest_) + ").");
}

// ---- data connection setup ----

void Session::Pasv(const FtpCommand&) {
  if (epsv_all_) return (void)ctrl_.Reply(503, "PASV not allowed after EPSV ALL.");
  if (!config_.pasv_enable) return (void)ctrl_.Reply(550, "Permission denied.");
  SockAddr local = info_.local.Normalized();
  if (local.family() != AF_INET) return (void)ctrl_.Reply(522, "PASV is for IPv4; use EPSV.");
  PasvAnswer a = RequestPasvListen(channel_);
  if (!a.ok) return (void)ctrl_.Reply(425, a.message);
  data_mode_ = DataMode::kPasv;
  SockAddr shown = local;
  if (!config_.pasv_address.empty()) {
    Result<SockAddr> p = SockAddr::FromHostString(config_.pasv_address, 0);
    if (p.ok()) shown = *p;
  }
  ctrl_.Reply(227, FormatPasvReply(shown, a.port));
}

void Session::Epsv(const FtpCommand& c) {
  EpsvArg arg = ParseEpsvArgument(c.arg);
  int family = info_.local.Normalized().family();
  const char* ours = family == AF_INET ? "(1)" : "(2)";
  switch (arg) {
    case EpsvArg::kAll:
      epsv_all_ = true;
      return (void)ctrl_.Reply(200, "EPSV ALL ok.");
    case EpsvArg::kBad:
      return (void)ctrl_.Reply(501, "Bad EPSV argument.");
    case EpsvArg::kIpv4:
      if (family != AF_INET) return (void)ctrl_.Reply(522, std::string("Bad network protocol, use ") + ours);
      break;
    case EpsvArg::kIpv6:
      if (family != AF_INET6) return (void)ctrl_.Reply(522, std::string("Bad network protocol, use ") + ours);
      break;
    case EpsvArg::kNone: break;
  }
  if (!config_.pasv_enable) return (void)ctrl_.Reply(550, "Permission denied.");
  PasvAnswer a = RequestPasvListen(channel_);
  if (!a.ok) return (void)ctrl_.Reply(425, a.message);
  data_mode_ = DataMode::kPasv;
  ctrl_.Reply(229, FormatEpsvReply(a.port));
}

void Session::Port(const FtpCommand& c) {
  if (epsv_all_) return (void)ctrl_.Reply(503, "PORT not allowed after EPSV ALL.");
  if (!config_.port_enable) return (void)ctrl_.Reply(550, "Permission denied.");
  Result<SockAddr> a = ParsePortArgument(c.arg);
  if (!a.ok()) return (void)ctrl_.Reply(501, "Illegal PORT command.");
  if (!config_.port_promiscuous && (!a->SameHost(info_.peer) || a->port() < 1024)) {
    Log(kLogWarning, "refused PORT to " + a->HostString() + " port " + std::to_string(a->port()));
    return (void)ctrl_.Reply(501, "Illegal PORT command.");
  }
  port_target_ = *a;
  data_mode_ = DataMode::kPort;
  ctrl_.Reply(200, "PORT command successful. Consider using PASV.");
}

void Session::Eprt(const FtpCommand& c) {
  if (epsv_all_) return (void)ctrl_.Reply(503, "EPRT not allowed after EPSV ALL.");
  if (!config_.port_enable) return (void)ctrl_.Reply(550, "Permission denied.");
  Result<EprtResult> a = ParseEprtArgument(c.arg);
  if (!a.ok()) return (void)ctrl_.Reply(501, "Illegal EPRT command.");
  if (a->unsupported_family) {
    return (void)ctrl_.Reply(522, info_.local.Normalized().family() == AF_INET
                                      ? "Bad network protocol, use (1)"
                                      : "Bad network protocol, use (2)");
  }
  const SockAddr& t = a->addr;
  if (!config_.port_promiscuous && (!t.SameHost(info_.peer) || t.port() < 1024)) {
    Log(kLogWarning, "refused EPRT to " + t.HostString() + " port " + std::to_string(t.port()));
    return (void)ctrl_.Reply(501, "Illegal EPRT command.");
  }
  port_target_ = t;
  data_mode_ = DataMode::kPort;
  ctrl_.Reply(200, "EPRT command successful. Consider using EPSV.");
}

UniqueFd Session::OpenDataConnection(std::string_view reply150) {
  DataMode mode = std::exchange(data_mode_, DataMode::kNone);
  if (mode == DataMode::kNone) {
    ctrl_.Reply(425, "Use PORT or PASV first.");
    return UniqueFd();
  }
  DataAnswer a = mode == DataMode::kPasv ? RequestDataAccept(channel_)
                                         : RequestPortConnect(channel_, port_target_);
  if (!a.ok) {
    ctrl_.Reply(425, a.message.empty() ? "Failed to establish connection." : a.message);
    return UniqueFd();
  }
  ctrl_.Reply(150, reply150);
  return std::move(a.fd);
}

void Session::FinishTransfer(TransferResult r, std::string_view ok_text) {
  switch (r) {
    case TransferResult::kOk:
      ctrl_.Reply(226, ok_text);
      return;
    case TransferResult::kAborted:
      ctrl_.Reply(426, "Connection closed; transfer aborted.");
      ctrl_.Reply(226, "ABOR successful.");
      return;
    case TransferResult::kDataError:
      ctrl_.Reply(426, "Failure writing network stream.");
      return;
    case TransferResult::kFileError:
      ctrl_.Reply(451, "Failure reading local file.");
      return;
    case TransferResult::kTimeout:
      Exit(421, "Data timeout. Reconnect. Sorry.");
    case TransferResult::kControlClosed:
      _exit(0);
  }
}

// ---- listings ----

bool Session::CollectListing(std::string_view raw_arg, ListKind kind, bool stat_mode,
                             std::string* out, int* fail_code, std::string* fail_text) {
  // LIST and NLST take ls-style options first ("-la"); MLSD takes a path only.
  std::string_view arg = raw_arg;
  bool all = stat_mode;
  if (kind != ListKind::kMlsd && !arg.empty() && arg.front() == '-') {
    std::size_t sp = arg.find(' ');
    std::string_view opts = arg.substr(1, sp == std::string_view::npos ? arg.npos : sp - 1);
    if (opts.find('a') != std::string_view::npos) all = true;
    arg = sp == std::string_view::npos ? std::string_view() : TrimSpaces(arg.substr(sp + 1));
  }
  std::string path;
  if (!Resolve(arg, &path) || Denied(path)) {
    *fail_code = 550;
    *fail_text = "Permission denied.";
    return false;
  }
  ReadDirOptions options;
  options.show_dot_files = all || config_.force_dot_files;
  options.show_dot_dirs = all;
  options.hide = &hide_;
  std::string pattern;
  std::string dir = path;
  std::string prefix;  // NLST prints names the way the client named the directory
  struct stat st;
  bool exists = stat(path.c_str(), &st) == 0;
  if (!exists && HasWildcard(SplitDirBase(path).second)) {
    auto [d, base] = SplitDirBase(path);
    dir = d;
    pattern = base;
    options.pattern = pattern;
    std::size_t slash = arg.rfind('/');
    if (slash != std::string_view::npos) prefix = std::string(arg.substr(0, slash + 1));
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      *fail_code = 550;
      *fail_text = "Failed to open directory.";
      return false;
    }
  } else if (!exists) {
    *fail_code = 550;
    *fail_text = "Failed to open directory.";
    return false;
  } else if (!S_ISDIR(st.st_mode)) {
    if (kind == ListKind::kMlsd) {
      *fail_code = 501;
      *fail_text = "Not a directory.";
      return false;
    }
    ListEntry e;
    e.name = std::string(arg);
    if (lstat(path.c_str(), &e.st) != 0) e.st = st;
    if (S_ISLNK(e.st.st_mode)) {
      char target[4096];
      ssize_t n = readlink(path.c_str(), target, sizeof(target));
      if (n > 0) e.link_target.assign(target, static_cast<std::size_t>(n));
    }
    *out = kind == ListKind::kNlst ? e.name + "\r\n" : FormatListLine(e, Format());
    return true;
  } else if (!arg.empty()) {
    prefix = std::string(arg);
    if (prefix.back() != '/') prefix += '/';
  }
  std::vector<ListEntry> entries;
  Status s = ReadDirectory(dir, options, &entries);
  if (!s.ok()) {
    *fail_code = 550;
    *fail_text = "Failed to open directory.";
    return false;
  }
  ListFormat format = Format();
  for (const ListEntry& e : entries) {
    switch (kind) {
      case ListKind::kList: *out += FormatListLine(e, format); break;
      case ListKind::kNlst: *out += prefix + e.name + "\r\n"; break;
      case ListKind::kMlsd: *out += FormatMlsdLine(e, mlst_, uid_, gid_); break;
    }
  }
  return true;
}

void Session::DoList(const FtpCommand& cmd, ListKind kind) {
  if (!config_.dirlist_enable) return (void)ctrl_.Reply(550, "Permission denied.");
  std::string out;
  int code = 0;
  std::string text;
  if (!CollectListing(cmd.arg, kind, false, &out, &code, &text)) {
    data_mode_ = DataMode::kNone;
    return (void)ctrl_.Reply(code, text);
  }
  UniqueFd data = OpenDataConnection("Here comes the directory listing.");
  if (!data.valid()) return;
  TransferOptions options;
  options.timeout_seconds = config_.data_connection_timeout;
  std::uint64_t sent = 0;
  TransferResult r = SendBuffer(data.get(), ctrl_, out, options, &sent);
  data.Reset();
  FinishTransfer(r, "Directory send OK.");
}

void Session::Mlst(const FtpCommand& c) {
  std::string path;
  if (!Resolve(c.arg, &path) || Denied(path)) return (void)ctrl_.Reply(550, "Permission denied.");
  ListEntry e;
  if (lstat(path.c_str(), &e.st) != 0) return (void)ctrl_.Reply(550, "No such file or directory.");
  if (S_ISLNK(e.st.st_mode)) e.target_ok = stat(path.c_str(), &e.target_st) == 0;
  e.name = path;
  ctrl_.ReplyMulti(250, "Listing " + path, {" " + FormatMlsxFacts(e, mlst_, uid_, gid_) + " " + path},
                   "End");
}

// ---- files ----

void Session::Size(const FtpCommand& c) {
  std::string path;
  struct stat st;
  if (!Resolve(c.arg, &path) || Denied(path)) return (void)ctrl_.Reply(550, "Permission denied.");
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return (void)ctrl_.Reply(550, "Could not get file size.");
  }
  ctrl_.Reply(213, std::to_string(st.st_size));
}

void Session::Mdtm(const FtpCommand& c) {
  std::string path;
  struct stat st;
  if (!Resolve(c.arg, &path) || Denied(path)) return (void)ctrl_.Reply(550, "Permission denied.");
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return (void)ctrl_.Reply(550, "Could not get file modification time.");
  }
  ctrl_.Reply(213, FormatMdtmTime(st.st_mtime));
}

void Session::Retr(const FtpCommand& c) {
  std::uint64_t offset = std::exchange(rest_, 0);
  if (!config_.download_enable) return (void)ctrl_.Reply(550, "Permission denied.");
  std::string path;
  if (!Resolve(c.arg, &path) || Denied(path)) return (void)ctrl_.Reply(550, "Permission denied.");
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    data_mode_ = DataMode::kNone;
    return (void)ctrl_.Reply(550, "Failed to open file.");
  }
  UniqueFd file(fd);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    data_mode_ = DataMode::kNone;
    return (void)ctrl_.Reply(550, "Failed to open file.");
  }
  bool ascii = type_ == TransferType::kAscii;
  std::string name = SanitizeForLog(SplitDirBase(path).second);
  UniqueFd data = OpenDataConnection(std::string("Opening ") + (ascii ? "ASCII" : "BINARY") +
                                     " mode data connection for " + name + " (" +
                                     std::to_string(st.st_size) + " bytes).");
  if (!data.valid()) return;
  TransferOptions options;
  options.timeout_seconds = config_.data_connection_timeout;
  options.ascii = ascii;
  std::uint64_t sent = 0;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  TransferResult r = SendFile(data.get(), ctrl_, fd, offset, options, &sent);
  data.Reset();
  clock_gettime(CLOCK_MONOTONIC, &end);
  long usec = (end.tv_sec - start.tv_sec) * 1000000L + (end.tv_nsec - start.tv_nsec) / 1000;
  Log(kLogInfo, "RETR " + path + ": " + std::to_string(sent) + " bytes in " +
                    std::to_string(usec) + " us, " + (r == TransferResult::kOk ? "ok" : "failed"));
  FinishTransfer(r, "Transfer complete.");
}

}  // namespace

void RunSession(const Config& config, const SessionInfo& session, int channel,
                const std::string& start_dir) {
  static Session* s = new Session(config, session, channel);
  s->Start(start_dir);
  s->Run();
}

}  // namespace keepftpd
