// The logged-in FTP command loop. Session jail only: the user's uid, chrooted into the user's
// root, seccomp-filtered. Paths are resolved as strings against the session's current
// directory; the chroot is what confines them. Data connections come from the monitor.
#include "postlogin.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/file.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "build_config.h"
#include "cmdio.h"
#include "dataio.h"
#include "ftp_features.h"
#include "ftp_command.h"
#include "ftp_path.h"
#include "hash.h"
#include "hash_file.h"
#include "listing.h"
#include "log.h"
#include "monitor_client.h"
#include "no_destructor.h"
#include "proctitle.h"
#include "strutil.h"
#include "test_hooks.h"

namespace keepftpd {

namespace {

constexpr std::size_t kMaxMessageFile = 4096;

class Session {
 public:
  Session(const Config& config, const SessionInfo& info, int channel, const SessionUser& user)
      : config_(config), info_(info), user_(user), channel_(channel), ctrl_(info.control_fd) {
    umask_ = user.anonymous ? config.anon_umask : config.local_umask;
    base_umask_ = umask_;
    ctrl_.SetCommandRate(config.max_command_rate);
    title_ = info.peer.HostString() + ": " + user.name + ": ";
    prot_.pbsz = user.prot_private;
    prot_.private_data = user.prot_private;
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
    std::string expanded;
    if (config_.tilde_user_enable && !user_.chrooted && !arg.empty() && arg.front() == '~') {
      // "~" and "~/x": the user's own home; "~name" and "~name/x": that user's home.
      std::size_t slash = arg.find('/');
      std::string name(arg.substr(1, slash == std::string_view::npos ? arg.npos : slash - 1));
      std::string home = name.empty() ? user_.home : std::string();
      if (!name.empty()) {
        auto it = user_.userdb.homes.find(name);
        if (it != user_.userdb.homes.end()) home = it->second;
      }
      if (!home.empty()) {
        expanded = home + (slash == std::string_view::npos ? "" : std::string(arg.substr(slash)));
        arg = expanded;
      }
    }
    Result<std::string> r = ResolvePath(cwd_, arg);
    if (!r.ok()) return false;
    *out = std::move(*r);
    return true;
  }
  bool Denied(const std::string& path) const { return config_.deny_filter.MatchesAnyComponent(path); }
  // The name a refused or failed command is logged with: the path it resolves to, or the
  // argument as the client gave it.
  std::string Attempted(std::string_view arg) const {
    Result<std::string> r = ResolvePath(cwd_, arg);
    return r.ok() ? *r : std::string(arg);
  }
  // A refused or failed command: its record, then its reply. A transfer's record counts 0
  // bytes (the xferlog has a line for it, as vsftpd writes one).
  void Refuse(std::string_view command, const std::string& path, std::string_view result,
              int code, std::string_view reply, const std::string& target = std::string()) {
    const bool transfer = command == "RETR" || command == "STOR" || command == "APPE" ||
                          command == "STOU";
    Event(kLogInfo, command, path, result, transfer ? 0 : -1, -1, target);
    ctrl_.Reply(code, reply);
  }
  // Whether the client closes the control connection within ms milliseconds (waiting only
  // while nothing is readable on it: a command waiting there means the client is alive).
  bool ControlGoneWithin(int ms) {
    pollfd p = {ctrl_.fd(), POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, ms) <= 0) return false;
    std::string line;
    bool closed = false;
    ctrl_.PeekLine(&line, &closed);
    return closed;
  }
  // anon_max_rate for sessions with anonymous rights, local_max_rate for the others, as vsftpd.
  std::uint64_t MaxRate() const {
    return user_.anonymous ? config_.anon_max_rate : config_.local_max_rate;
  }
  [[noreturn]] void Exit(int code, std::string_view text) {
    ctrl_.Reply(code, text);
    // The client sees the end now, not after this jail's and its monitors' exits (with TLS,
    // the TLS jail sends its close_notify and closes as soon as it reads the end).
    shutdown(ctrl_.fd(), SHUT_WR);
    _exit(0);
  }
  // One structured record: "RETR /pub/x: 21 bytes in 40 us, ok" with its fields. target:
  // RNTO's new name, SITE CHMOD's mode.
  void Event(int priority, std::string_view command, const std::string& path,
             std::string_view result, std::int64_t bytes = -1, std::int64_t usec = -1,
             const std::string& target = std::string()) {
    LogEvent e;
    if (bytes >= 0) e.transfer_type = type_ == TransferType::kAscii ? 'a' : 'b';
    e.command = std::string(command);
    e.path = path;
    e.target = target;
    e.bytes = bytes;
    e.duration_usec = usec;
    e.result = std::string(result);
    std::string text = e.command + " " + path;
    if (!target.empty()) text += (e.command == "RNTO" ? " -> " : " ") + target;
    if (bytes >= 0) text += ": " + std::to_string(bytes) + " bytes";
    if (usec >= 0) text += " in " + std::to_string(usec) + " us";
    text += ", " + e.result;
    LogEventRecord(priority, text, e);
  }
  static std::string_view ResultName(TransferResult r) {
    switch (r) {
      case TransferResult::kOk: return "ok";
      case TransferResult::kAborted: return "aborted";
      case TransferResult::kTimeout: return "timeout";
      case TransferResult::kDataError: return "data connection failed";
      case TransferResult::kControlClosed: return "client gone";
      case TransferResult::kFileError: return "file error";
    }
    return "failed";
  }
  ListFormat Format() const {
    ListFormat f;
    f.hide_ids = config_.hide_ids;
    if (config_.text_userdb_names) {
      f.user_names = &user_.userdb.user_names;
      f.group_names = &user_.userdb.group_names;
    }
    f.use_localtime = config_.use_localtime;
    f.now = time(nullptr);
    return f;
  }
  UniqueFd OpenDataConnection(std::string_view reply150);
  // Closes a data connection that carried everything: with TLS, after the TLS jail has sent
  // the last byte and its close_notify (it closes its end), so that the 226 comes after that.
  void CloseData(UniqueFd& data);
  void FinishTransfer(TransferResult r, std::string_view ok_text);
  void ShowDirMessage(const std::string& dir, std::vector<std::string>* lines);
  bool ChangeDir(std::string_view arg);
  enum class ListKind { kList, kNlst, kMlsd };
  // Where a listing's lines go. STAT keeps them all in text. LIST, NLST and MLSD open their
  // data connection (start) once nothing is left that fails with a reply of its own, then send
  // text whenever it holds kListingPiece bytes, so that the client takes in the first lines
  // while the rest of the directory is still being stat'ed; a piece that cannot go (ABOR, a
  // closed data connection) stops the listing.
  struct ListingSink {
    std::string text;
    std::function<bool()> start;  // null for STAT
    std::function<bool()> send;   // sends text and clears it
    bool Start() { return !start || start(); }
    bool Wrote() { return !send || text.size() < kListingPiece || send(); }
  };
  static constexpr std::size_t kListingPiece = 128 << 10;
  void DoList(const FtpCommand& cmd, ListKind kind);
  void AppendRecursive(const std::string& top, const std::string& top_name, ListKind kind,
                       const ReadDirOptions& options, std::vector<ListEntry> top_entries,
                       ListingSink* sink);
  // False, with the reply to give, when the listing fails before it starts; true otherwise
  // (including when sink->start failed and replied itself).
  bool MakeListing(std::string_view arg, ListKind kind, bool stat_mode, ListingSink* sink,
                   int* fail_code, std::string* fail_text);

  // ---- commands ----
  void Pwd(const FtpCommand&) {
    ctrl_.Reply(257, "\"" + QuoteForReply(cwd_) + "\" is the current directory");
  }
  void Cwd(const FtpCommand& c) { ChangeDir(c.arg); }
  void Cdup(const FtpCommand&) { ChangeDir(".."); }
  void Syst(const FtpCommand&) { ctrl_.Reply(215, "UNIX Type: L8"); }
  void Noop(const FtpCommand&) { ctrl_.Reply(200, "NOOP ok."); }
  void Feat(const FtpCommand&) {
    ctrl_.ReplyMulti(211, "Features:",
                     FeatureLines(mlst_.FeatString(), HashFeatString(hash_), config_.ssl_enable),
                     "End");
  }
  void Pbsz(const FtpCommand& c) { HandlePbsz(ctrl_, user_.tls_active, c.arg, &prot_); }
  void Prot(const FtpCommand& c) { HandleProt(ctrl_, user_.tls_active, c.arg, &prot_); }
  void Auth(const FtpCommand&) {
    if (!config_.ssl_enable) {
      return (void)ctrl_.Reply(502, "AUTH is not supported: TLS is not enabled on this server.");
    }
    ctrl_.Reply(503, user_.tls_active ? "Already using TLS." : "AUTH must come before login.");
  }
  void Ccc(const FtpCommand&) {
    ctrl_.Reply(534, "CCC refused: the control connection stays encrypted.");
  }
  void Hash(const FtpCommand& c);
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
  void Mfmt(const FtpCommand& c);
  void SetModifyTime(std::string_view time_text, std::string_view name, bool mfmt);
  void Retr(const FtpCommand& c);
  void Abor(const FtpCommand&) {
    data_mode_ = DataMode::kNone;
    ctrl_.Reply(225, "No transfer to ABOR.");
  }
  void Host(const FtpCommand&) { ctrl_.Reply(503, "HOST must come before USER."); }
  void Rein(const FtpCommand&) {
    if (!ReinAfterLogin(config_, info_.rootless)) {
      ctrl_.Reply(502, "REIN is not available after login here (the new login would be less "
                       "isolated than this one); open a new connection to log in again.");
      return;
    }
    RequestReinit(channel_);
    _exit(0);  // a new pre-login jail says 220
  }
  void User(const FtpCommand&) { ctrl_.Reply(530, "Can't change to another user."); }
  // ---- writing (write_enable) ----
  enum class UploadKind { kStore, kAppend, kUnique };
  bool MayUpload() const {
    return config_.write_enable && (!user_.anonymous || config_.anon_upload_enable);
  }
  bool MayMkdir() const {
    return config_.write_enable && (!user_.anonymous || config_.anon_mkdir_write_enable);
  }
  // Deleting, renaming, overwriting and appending to what may be someone else's file.
  bool MayChangeExisting() const {
    return config_.write_enable && (!user_.anonymous || config_.anon_other_write_enable);
  }
  void Upload(std::string_view arg, UploadKind kind);
  void Stor(const FtpCommand& c) { Upload(c.arg, UploadKind::kStore); }
  void Appe(const FtpCommand& c) { Upload(c.arg, UploadKind::kAppend); }
  void Stou(const FtpCommand& c) { Upload(c.arg, UploadKind::kUnique); }
  void Dele(const FtpCommand& c);
  void Mkd(const FtpCommand& c);
  void Rmd(const FtpCommand& c);
  void Rnfr(const FtpCommand& c);
  void Rnto(const FtpCommand& c);
  void Site(const FtpCommand& c);
  void Pass(const FtpCommand&) { ctrl_.Reply(230, "Already logged in."); }
  void Quit(const FtpCommand&) { Exit(221, "Goodbye."); }
  void NotImplemented(const FtpCommand&) { ctrl_.Reply(502, "Command not implemented."); }

  const Config& config_;
  const SessionInfo& info_;
  SessionUser user_;
  unsigned umask_ = 077;
  unsigned base_umask_ = 077;  // the configured one: SITE UMASK for anonymous and guests adds to it
  std::string rename_from_;  // set by RNFR, used by RNTO
  std::string title_;        // setproctitle_enable: "ADDRESS: USER: "
  int channel_;
  ControlConnection ctrl_;
  uid_t uid_;
  gid_t gid_;

  std::string cwd_ = "/";
  TransferType type_ = TransferType::kAscii;
  std::uint64_t rest_ = 0;
  enum class DataMode { kNone, kPasv, kPort } data_mode_ = DataMode::kNone;
  SockAddr port_target_;
  bool epsv_all_ = false;
  MlstFacts mlst_;
  HashAlgorithm hash_ = HashAlgorithm::kSha256;  // OPTS HASH
  ProtState prot_;          // PBSZ, PROT
  bool data_tls_ = false;   // the open data connection is a TLS jail's plaintext end
  std::set<std::string> messages_shown_;
};

const std::map<std::string, Session::Handler>& Session::Commands() {
  static const std::map<std::string, Handler> table = {
      {"ABOR", &Session::Abor}, {"ACCT", &Session::NotImplemented},
      {"AUTH", &Session::Auth}, {"CCC", &Session::Ccc},
      {"PBSZ", &Session::Pbsz}, {"PROT", &Session::Prot},
      {"ALLO", &Session::Allo}, {"APPE", &Session::Appe},
      {"CDUP", &Session::Cdup}, {"CWD", &Session::Cwd},
      {"DELE", &Session::Dele}, {"EPRT", &Session::Eprt},
      {"EPSV", &Session::Epsv}, {"FEAT", &Session::Feat},
      {"HASH", &Session::Hash},
      {"HELP", &Session::Help}, {"HOST", &Session::Host},
      {"LIST", &Session::List}, {"MDTM", &Session::Mdtm},
      {"MFMT", &Session::Mfmt},
      {"MKD", &Session::Mkd}, {"MLSD", &Session::Mlsd},
      {"MLST", &Session::Mlst}, {"MODE", &Session::Mode},
      {"NLST", &Session::Nlst}, {"NOOP", &Session::Noop},
      {"OPTS", &Session::Opts}, {"PASS", &Session::Pass},
      {"PASV", &Session::Pasv}, {"PORT", &Session::Port},
      {"PWD", &Session::Pwd}, {"QUIT", &Session::Quit},
      {"REIN", &Session::Rein}, {"REST", &Session::Rest},
      {"RETR", &Session::Retr}, {"RMD", &Session::Rmd},
      {"RNFR", &Session::Rnfr}, {"RNTO", &Session::Rnto},
      {"SITE", &Session::Site}, {"SIZE", &Session::Size},
      {"SMNT", &Session::NotImplemented}, {"STAT", &Session::Stat},
      {"STOR", &Session::Stor}, {"STOU", &Session::Stou},
      {"STRU", &Session::Stru}, {"SYST", &Session::Syst},
      {"TYPE", &Session::Type}, {"USER", &Session::User},
      {"XCUP", &Session::Cdup}, {"XCWD", &Session::Cwd},
      {"XMKD", &Session::Mkd}, {"XPWD", &Session::Pwd},
      {"XRMD", &Session::Rmd},
  };
  return table;
}

// Commands whose argument RFC 959 and 3659 require: without one, 501 (syntax error in
// arguments). CWD, LIST, NLST, STOU and the others have a meaning without one.
bool NeedsArgument(std::string_view verb) {
  static constexpr std::string_view kVerbs[] = {
      "APPE", "DELE", "EPRT", "HASH", "MDTM", "MFMT", "MKD",  "MODE", "PORT", "REST",
      "RETR", "RMD",  "RNFR", "RNTO", "SIZE", "STOR", "STRU", "TYPE", "XMKD", "XRMD"};
  return std::find(std::begin(kVerbs), std::end(kVerbs), verb) != std::end(kVerbs);
}

void Session::Run() {
  ctrl_.Reply(230, "Login successful.");
  while (true) {
    std::string line;
    switch (ctrl_.ReadLine(&line, config_.idle_session_timeout)) {
      case ControlConnection::ReadOutcome::kLine: break;
      case ControlConnection::ReadOutcome::kTooLong:
        ctrl_.EndTooLong();
      case ControlConnection::ReadOutcome::kTimeout:
        Exit(421, "Timeout.");
      case ControlConnection::ReadOutcome::kClosed:
        _exit(0);
    }
    ControlConnection::LogCommand(line);
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
    if (cmd.arg.empty() && NeedsArgument(cmd.verb)) {
      ctrl_.Reply(501, cmd.verb + " needs an argument.");
      continue;
    }
    SetProcTitle(title_ + cmd.verb);
    (this->*(it->second))(cmd);
    SetProcTitle(title_ + "IDLE");
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
    Event(kLogInfo, "CWD", SanitizeForLog(arg), "refused");
    ctrl_.Reply(550, "Failed to change directory.");
    return false;
  }
  struct stat st;
  // chdir asks the kernel the real question: is it a directory this user may enter?
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || chdir(path.c_str()) != 0) {
    Event(kLogInfo, "CWD", path, "failed");
    ctrl_.Reply(550, "Failed to change directory.");
    return false;
  }
  Event(kLogDebug, "CWD", path, "ok");
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
  } else if (upper == "HASH") {
    ctrl_.Reply(200, std::string(HashName(hash_)));
  } else if (StartsWith(upper, "HASH ")) {
    HashAlgorithm a;
    if (!ParseHashName(TrimSpaces(arg.substr(5)), &a)) {
      return (void)ctrl_.Reply(504, "Unknown algorithm; FEAT lists them.");
    }
    hash_ = a;
    ctrl_.Reply(200, std::string(HashName(hash_)));
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
        "     Logged in as " + user_.name,
        std::string("     TYPE: ") + (type_ == TransferType::kAscii ? "ASCII" : "BINARY"),
        MaxRate() == 0 ? std::string("     No session bandwidth limit")
                       : "     Session bandwidth limit in byte/s is " + std::to_string(MaxRate()),
        "     Session timeout in seconds is " + std::to_string(config_.idle_session_timeout),
        std::string("     Control connection is ") + (user_.tls_active ? "encrypted" : "plain text"),
        std::string("     Data connections will be ") +
            (prot_.private_data ? "encrypted" : "plain text"),
        "     keepftpd " KEEPFTPD_VERSION,
    };
    ctrl_.ReplyMulti(211, "FTP server status:", lines, "End of status");
    return;
  }
  ListingSink sink;
  int code = 0;
  std::string text;
  if (!MakeListing(c.arg, ListKind::kList, true, &sink, &code, &text)) {
    ctrl_.Reply(code, text);
    return;
  }
  std::vector<std::string> lines;
  for (std::string_view l : Split(sink.text, '\n')) {
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
  PasvListenResult a = RequestPasvListen(channel_);
  if (!a.ok) return (void)ctrl_.Reply(425, a.message);
  SockAddr shown = local;
  // pasv_address_map: the client's network (the PROXY header's client with proxy_protocol)
  // chooses; pasv_address is for the others.
  const SockAddr* mapped = PasvAddressFor(config_.pasv_address_rules, info_.peer);
  if (mapped != nullptr) {
    shown = *mapped;
  } else if (config_.pasv_addr_resolve && !config_.pasv_address.empty()) {
    // Looked up by the monitor; without an answer the reply would send NATed clients nowhere.
    if (!a.resolved) return (void)ctrl_.Reply(425, "Could not look up pasv_address; use EPSV.");
    shown = SockAddr::V4(a.address, 0);
  } else if (config_.pasv_address_ipv4) {
    shown = *config_.pasv_address_ipv4;
  }
  data_mode_ = DataMode::kPasv;
  ctrl_.Reply(227, FormatPasvReply(shown, a.port));
}

// RFC 2428's 522, with the one protocol this connection's data connections can use: the
// control connection's own.
constexpr std::string_view kProtocolNotSupported = "Network protocol not supported, use ";

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
    case EpsvArg::kOther:
      return (void)ctrl_.Reply(522, std::string(kProtocolNotSupported) + ours);
    case EpsvArg::kIpv4:
      if (family != AF_INET) return (void)ctrl_.Reply(522, std::string(kProtocolNotSupported) + ours);
      break;
    case EpsvArg::kIpv6:
      if (family != AF_INET6) return (void)ctrl_.Reply(522, std::string(kProtocolNotSupported) + ours);
      break;
    case EpsvArg::kNone: break;
  }
  if (!config_.pasv_enable) return (void)ctrl_.Reply(550, "Permission denied.");
  PasvListenResult a = RequestPasvListen(channel_);
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
    return (void)ctrl_.Reply(522, std::string(kProtocolNotSupported) +
                                      (info_.local.Normalized().family() == AF_INET ? "(1)" : "(2)"));
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
  const bool tls = user_.tls_active && prot_.private_data;
  const bool must_encrypt =
      config_.ssl_enable && (user_.anonymous_login
                                 ? config_.allow_anon_ssl && config_.force_anon_data_ssl
                                 : config_.force_local_data_ssl);
  if (!tls && must_encrypt) {
    ctrl_.Reply(522, "Data connections must be encrypted: use PROT P.");
    return UniqueFd();
  }
  DataAnswer a = mode == DataMode::kPasv ? RequestDataAccept(channel_, tls, ctrl_)
                                         : RequestPortConnect(channel_, port_target_, tls);
  if (!a.ok) {
    ctrl_.Reply(425, a.message.empty() ? "Failed to establish connection." : a.message);
    return UniqueFd();
  }
  ctrl_.Reply(150, reply150);
  data_tls_ = tls;
  if (!tls) return std::move(a.fd);
  // Clients start the data connection's TLS handshake after the 150.
  DataAnswer t = RequestTlsData(channel_);
  if (!t.ok) {
    ctrl_.Reply(522, t.message.empty() ? "TLS on the data connection failed." : t.message);
    return UniqueFd();
  }
  int flags = fcntl(t.fd.get(), F_GETFL);
  if (flags >= 0) fcntl(t.fd.get(), F_SETFL, flags | O_NONBLOCK);
  return std::move(t.fd);
}

void Session::CloseData(UniqueFd& data) {
  if (data_tls_ && data.valid()) {
    shutdown(data.get(), SHUT_WR);
    char buf[4096];
    while (true) {
      pollfd p = {data.get(), POLLIN, 0};
      int n = poll(&p, 1, static_cast<int>(config_.data_connection_timeout) * 1000);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || recv(data.get(), buf, sizeof(buf), 0) <= 0) break;
    }
  }
  data.Reset();
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

bool Session::MakeListing(std::string_view raw_arg, ListKind kind, bool stat_mode,
                          ListingSink* sink, int* fail_code, std::string* fail_text) {
  // LIST and NLST take ls-style options first ("-la"); MLSD takes a path only.
  std::string_view arg = raw_arg;
  bool all = stat_mode;
  bool recursive = false;  // -R, with ls_recurse_enable (otherwise ignored, as in vsftpd)
  if (kind != ListKind::kMlsd && !arg.empty() && arg.front() == '-') {
    std::size_t sp = arg.find(' ');
    std::string_view opts = arg.substr(1, sp == std::string_view::npos ? arg.npos : sp - 1);
    if (opts.find('a') != std::string_view::npos) all = true;
    recursive = config_.ls_recurse_enable && opts.find('R') != std::string_view::npos;
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
  options.hide = &config_.hide_filter;
  // NLST prints names alone: no lstat of each entry (a third of vsftpd's time without it);
  // NLST -R needs to know the directories.
  options.names_only = kind == ListKind::kNlst && !recursive;
  // LIST shows where a symbolic link points, MLSD describes what it points to, NLST neither.
  options.read_links = kind == ListKind::kList;
  options.stat_link_targets = kind == ListKind::kMlsd;
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
    if (!sink->Start()) return true;
    if (kind == ListKind::kNlst) {
      AppendNlstLine("", e.name, &sink->text);
    } else {
      AppendListLine(e, Format(), &sink->text);
    }
    return true;
  } else if (!arg.empty()) {
    prefix = std::string(arg);
    if (prefix.back() != '/') prefix += '/';
  }
  Status s;
  if (recursive && pattern.empty()) {
    std::vector<ListEntry> entries;
    s = ReadDirectory(dir, options, &entries);
    if (s.ok() && sink->Start()) {
      AppendRecursive(dir, arg.empty() ? "." : std::string(arg), kind, options,
                      std::move(entries), sink);
    }
  } else {
    // Each line is appended as its entry is stat'ed, straight into the sink.
    const ListFormat format = Format();
    std::string* out = &sink->text;
    s = VisitDirectory(
        dir, options,
        [&](const ListEntry& e) {
          switch (kind) {
            case ListKind::kList: AppendListLine(e, format, out); break;
            case ListKind::kNlst: AppendNlstLine(prefix, e.name, out); break;
            case ListKind::kMlsd: AppendMlsdLine(e, mlst_, uid_, gid_, out); break;
          }
          return sink->Wrote();
        },
        [sink] { return sink->Start(); });
  }
  if (!s.ok()) {
    *fail_code = 550;
    *fail_text = "Failed to open directory.";
    return false;
  }
  return true;
}

// LIST -R / NLST -R (ls_recurse_enable), as ls -R prints it: each directory's name and a colon,
// its entries, a blank line, then its subdirectories in order. Only real directories are
// entered (never a symbolic link), denied ones are skipped, and the whole listing stops at
// kMaxListEntries entries and kMaxListDepth levels, so that no directory tree can make it
// unbounded.
void Session::AppendRecursive(const std::string& top, const std::string& top_name, ListKind kind,
                              const ReadDirOptions& options, std::vector<ListEntry> top_entries,
                              ListingSink* sink) {
  std::string* out = &sink->text;
  struct Pending {
    std::string path, name;
    unsigned depth;
  };
  std::vector<Pending> stack = {{top, top_name, 0}};
  std::size_t listed = 0;
  bool first = true;
  const ListFormat format = Format();
  while (!stack.empty() && listed < kMaxListEntries) {
    Pending dir = std::move(stack.back());
    stack.pop_back();
    std::vector<ListEntry> entries;
    if (first) {
      entries = std::move(top_entries);
    } else if (!ReadDirectory(dir.path, options, &entries).ok()) {
      continue;  // unreadable: left out, as ls -R does
    }
    *out += std::string(first ? "" : "\r\n") + ListingName(dir.name) + ":\r\n";
    first = false;
    std::vector<Pending> subdirs;
    for (const ListEntry& e : entries) {
      if (listed++ >= kMaxListEntries) break;
      if (kind == ListKind::kNlst) {
        AppendNlstLine("", e.name, out);
      } else {
        AppendListLine(e, format, out);
      }
      std::string child = (dir.path == "/" ? "" : dir.path) + "/" + e.name;
      if (S_ISDIR(e.st.st_mode) && e.name != "." && e.name != ".." &&
          dir.depth + 1 < kMaxListDepth && !Denied(child)) {
        subdirs.push_back({child, (dir.name == "/" ? "" : dir.name) + "/" + e.name, dir.depth + 1});
      }
    }
    // Depth first, in name order: pushed in reverse so the first name comes off first.
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack.push_back(std::move(*it));
    if (!sink->Wrote()) return;
  }
}

void Session::DoList(const FtpCommand& cmd, ListKind kind) {
  if (!config_.dirlist_enable) return (void)ctrl_.Reply(550, "Permission denied.");
  UniqueFd data;
  TransferResult r = TransferResult::kOk;
  TransferOptions options;
  options.timeout_seconds = config_.data_connection_timeout;
  ListingSink sink;
  sink.start = [&] {
    data = OpenDataConnection("Here comes the directory listing.");
    return data.valid();
  };
  sink.send = [&] {
    std::uint64_t sent = 0;
    r = SendBuffer(data.get(), ctrl_, sink.text, options, &sent);
    sink.text.clear();
    return r == TransferResult::kOk;
  };
  int code = 0;
  std::string text;
  if (!MakeListing(cmd.arg, kind, false, &sink, &code, &text)) {
    data_mode_ = DataMode::kNone;
    return (void)ctrl_.Reply(code, text);
  }
  if (!data.valid()) return;  // OpenDataConnection replied
  if (r == TransferResult::kOk && !sink.text.empty()) sink.send();
  if (r == TransferResult::kOk) CloseData(data);
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

// Sets a file's modification time: MFMT, and MDTM with two arguments (mdtm_write).
void Session::SetModifyTime(std::string_view time_text, std::string_view name, bool mfmt) {
  Result<std::int64_t> t = ParseMdtmTime(time_text);
  if (!t.ok()) return (void)ctrl_.Reply(501, "Bad time; expected YYYYMMDDHHMMSS.");
  std::string path;
  if (!config_.mdtm_write || !MayChangeExisting() || !Resolve(name, &path) || Denied(path)) {
    return (void)ctrl_.Reply(550, "Permission denied.");
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return (void)ctrl_.Reply(550, "Could not set file modification time.");
  }
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;  // access time unchanged
  times[1].tv_sec = static_cast<time_t>(*t);
  times[1].tv_nsec = 0;
  if (utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
    return (void)ctrl_.Reply(550, "Could not set file modification time.");
  }
  if (mfmt) {
    ctrl_.Reply(213, "Modify=" + FormatMdtmTime(*t) + "; " + SanitizeForLog(name));
  } else {
    ctrl_.Reply(213, "File modification time set.");
  }
}

void Session::Mfmt(const FtpCommand& c) {
  std::string_view arg = c.arg;
  std::size_t sp = arg.find(' ');
  if (sp == std::string_view::npos) return (void)ctrl_.Reply(501, "MFMT needs a time and a file.");
  SetModifyTime(arg.substr(0, sp), arg.substr(sp + 1), true);
}

void Session::Mdtm(const FtpCommand& c) {
  // "MDTM YYYYMMDDHHMMSS name" sets the time (mdtm_write), as vsftpd reads it.
  std::string_view arg = c.arg;
  if (arg.size() > 15 && arg[14] == ' ' && ParseMdtmTime(arg.substr(0, 14)).ok()) {
    return SetModifyTime(arg.substr(0, 14), arg.substr(15), false);
  }
  std::string path;
  struct stat st;
  if (!Resolve(c.arg, &path) || Denied(path)) return (void)ctrl_.Reply(550, "Permission denied.");
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return (void)ctrl_.Reply(550, "Could not get file modification time.");
  }
  ctrl_.Reply(213, FormatMdtmTime(st.st_mtime));
}

// HASH: a checksum of the whole file (draft-bryan-ftpext-hash), the algorithm chosen with
// OPTS HASH. The same rights as RETR; computed here, in the jail (hash_file.h).
void Session::Hash(const FtpCommand& c) {
  std::string path;
  if (!config_.download_enable || !Resolve(c.arg, &path) || Denied(path)) {
    return (void)ctrl_.Reply(550, "Permission denied.");
  }
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return (void)ctrl_.Reply(550, "Failed to open file.");
  UniqueFd file(fd);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      (user_.anonymous && config_.anon_world_readable_only && (st.st_mode & S_IROTH) == 0)) {
    return (void)ctrl_.Reply(550, "Failed to open file.");
  }
  std::uint64_t size = 0;
  Result<std::string> digest = HashFile(fd, hash_, &size);
  if (!digest.ok()) {
    Log(kLogWarning, "HASH: " + digest.status().message());
    return (void)ctrl_.Reply(451, "Failure reading local file.");
  }
  std::string range = size == 0 ? "0-0" : "0-" + std::to_string(size - 1);
  ctrl_.Reply(213, std::string(HashName(hash_)) + " " + range + " " + *digest + " " +
                       SanitizeForLog(c.arg));
}

void Session::Retr(const FtpCommand& c) {
  std::uint64_t offset = std::exchange(rest_, 0);
  if (!config_.download_enable) return Refuse("RETR", Attempted(c.arg), "refused", 550, "Permission denied.");
  std::string path;
  if (!Resolve(c.arg, &path) || Denied(path) ||
      (!config_.download_filter.empty() && !config_.download_filter.Matches(SplitDirBase(path).second))) {
    data_mode_ = DataMode::kNone;
    return Refuse("RETR", Attempted(c.arg), "refused", 550, "Permission denied.");
  }
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    data_mode_ = DataMode::kNone;
    return Refuse("RETR", path, "failed", 550, "Failed to open file.");
  }
  UniqueFd file(fd);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      (user_.anonymous && config_.anon_world_readable_only && (st.st_mode & S_IROTH) == 0)) {
    data_mode_ = DataMode::kNone;
    return Refuse("RETR", path, "failed", 550, "Failed to open file.");
  }
  // lock_upload_files: wait while someone writes this file in place.
  if (config_.lock_upload_files) {
    struct flock lock = {};
    lock.l_type = F_RDLCK;
    lock.l_whence = SEEK_SET;
    while (fcntl(fd, F_SETLKW, &lock) != 0 && errno == EINTR) {
    }
  }
  // TYPE A converts only with ascii_download_enable, as in vsftpd.
  bool ascii = type_ == TransferType::kAscii && config_.ascii_download_enable;
  std::string name = SanitizeForLog(SplitDirBase(path).second);
  UniqueFd data = OpenDataConnection(std::string("Opening ") + (type_ == TransferType::kAscii ? "ASCII" : "BINARY") +
                                     " mode data connection for " + name + " (" +
                                     std::to_string(st.st_size) + " bytes).");
  if (!data.valid()) return;
  TransferOptions options;
  options.timeout_seconds = config_.data_connection_timeout;
  options.ascii = ascii;
  options.use_sendfile = config_.use_sendfile;
  options.max_rate = MaxRate();
  std::uint64_t sent = 0;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  TransferResult r = SendFile(data.get(), ctrl_, fd, offset, options, &sent);
  const bool over_tls = data_tls_;
  if (r == TransferResult::kOk) CloseData(data);
  data.Reset();
  if (r == TransferResult::kOk && over_tls && config_.strict_ssl_write_shutdown &&
      !RequestTlsDataStatus(channel_, false)) {
    r = TransferResult::kDataError;
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  long usec = (end.tv_sec - start.tv_sec) * 1000000L + (end.tv_nsec - start.tv_nsec) / 1000;
  Event(kLogInfo, "RETR", path, ResultName(r), static_cast<std::int64_t>(sent), usec);
  FinishTransfer(r, "Transfer complete.");
}

// ---- writing ----

namespace {

constexpr std::string_view kUploadPrefix = ".keepftpd-upload-";
// STOU tries NAME, then NAME.1 up to NAME.<this>.
constexpr unsigned kMaxUniqueSuffix = 99999;

std::string RandomHex(std::size_t bytes) {
  unsigned char raw[16] = {};
  bytes = std::min(bytes, sizeof(raw));
  if (getrandom(raw, bytes, 0) != static_cast<ssize_t>(bytes)) {
    auto t = static_cast<unsigned long>(time(nullptr)) ^ static_cast<unsigned long>(getpid());
    std::memcpy(raw, &t, std::min(bytes, sizeof(t)));
  }
  return LowerHex(std::string_view(reinterpret_cast<const char*>(raw), bytes));
}

// Upload files a killed session left behind: nobody holds their lock any more. Opened for
// writing, because NFS turns flock(2) into a whole-file POSIX lock, which a read-only
// descriptor cannot take; a file this user may not write is not this session's to remove.
void RemoveStaleUploads(const std::string& dir) {
  UniqueDir d(opendir(dir.c_str()));
  if (d == nullptr) return;
  while (dirent* e = readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name.substr(0, kUploadPrefix.size()) != kUploadPrefix) continue;
    std::string path = (dir == "/" ? "" : dir) + "/" + std::string(name);
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) continue;
    struct stat st;
    if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (flock(fd.get(), LOCK_EX | LOCK_NB) == 0) unlinkat(AT_FDCWD, path.c_str(), 0);
  }
}

// Creates the hidden file an atomic upload writes to, holding the flock(2) that tells every
// other session's RemoveStaleUploads it is in use. Between the creation and the lock another
// session's clean-up may take the new file for a leftover: it then holds the lock (and removes
// the file), or has removed it already, so the file is ours only if it is still under its name
// once the lock is ours; otherwise another name is tried. Returns the descriptor, or -1 with
// errno set.
int CreateUploadFile(const std::string& dir, mode_t mode, std::string* temp) {
  for (int attempt = 0; attempt < 32; ++attempt) {
    *temp = (dir == "/" ? "" : dir) + "/" + std::string(kUploadPrefix) + RandomHex(8);
    UniqueFd fd(open(temp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode));
    if (!fd.valid()) {
      if (errno == EEXIST) continue;
      return -1;
    }
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK || errno == EINTR) continue;  // a clean-up holds it
      // A file system without flock: no clean-up can take the file either.
      return fd.Release();
    }
    struct stat mine, named;
    if (fstat(fd.get(), &mine) == 0 && lstat(temp->c_str(), &named) == 0 &&
        mine.st_dev == named.st_dev && mine.st_ino == named.st_ino) {
      return fd.Release();
    }
  }
  errno = EAGAIN;
  return -1;
}

// STOU: creates the first free name of NAME, NAME.1, NAME.2, ... with O_EXCL, so that two
// sessions never get the same one. Returns the descriptor, or -1 with errno set (EEXIST when
// every name is taken).
int ReserveUniqueName(const std::string& path, mode_t mode, std::string* name) {
  for (unsigned n = 0; n <= kMaxUniqueSuffix; ++n) {
    *name = n == 0 ? path : path + "." + std::to_string(n);
    int fd = open(name->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                  mode);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

bool SyncDirectory(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return fd.valid() && fsync(fd.get()) == 0;
}

// Puts a complete upload in place: renameat2, with RENAME_NOREPLACE where the client may not
// overwrite. NFS and CephFS refuse every renameat2 flag (EINVAL); there link(2), which fails
// when the name exists, gives the new name atomically, and the temporary one is removed.
// Returns 0 or an errno.
int PutUploadInPlace(const std::string& temp, const std::string& target, bool replace) {
  if (renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(),
                replace ? 0 : RENAME_NOREPLACE) == 0) {
    return 0;
  }
  if (replace || errno != EINVAL) return errno;
  if (linkat(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), 0) != 0) return errno;
  unlinkat(AT_FDCWD, temp.c_str(), 0);
  return 0;
}

}  // namespace

void Session::Upload(std::string_view arg, UploadKind kind) {
  std::uint64_t offset = std::exchange(rest_, 0);
  const char* verb = kind == UploadKind::kAppend ? "APPE" : kind == UploadKind::kUnique ? "STOU" : "STOR";
  if (kind == UploadKind::kUnique && arg.empty()) arg = "STOU";
  std::string path;
  auto refuse = [&](int code, std::string_view text) {
    data_mode_ = DataMode::kNone;
    Refuse(verb, path.empty() ? Attempted(arg) : path, code == 550 ? "refused" : "failed", code,
           text);
  };
  if (!MayUpload()) return refuse(550, "Permission denied.");
  if (!Resolve(arg, &path) || Denied(path)) {
    path.clear();
    return refuse(550, "Permission denied.");
  }
  if (path == "/") return refuse(553, "Could not create file.");
  if (!config_.upload_filter.empty() && !config_.upload_filter.Matches(SplitDirBase(path).second)) {
    return refuse(550, "Permission denied.");
  }
  // Without anon_other_write_enable, anonymous users may only create new files.
  const bool create_only = user_.anonymous && !config_.anon_other_write_enable;
  if (create_only && (kind == UploadKind::kAppend || offset > 0)) {
    return refuse(550, "Permission denied.");
  }
  struct stat st;
  bool exists = lstat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) return refuse(553, "Could not create file.");
  if (exists && create_only && kind == UploadKind::kStore) {
    return refuse(553, "Could not create file.");
  }
  auto [dir, base] = SplitDirBase(path);
  // Appending and resuming write into the file itself; so does atomic_uploads=NO (vsftpd's
  // way). Otherwise the data goes to a hidden file that replaces the target only once it is
  // complete and on disk.
  const bool in_place = kind == UploadKind::kAppend || offset > 0 || !config_.atomic_uploads;
  const auto mode = static_cast<mode_t>(config_.file_open_mode);
  std::string target = path;
  // STOU: the name the 150 announces is taken before it is announced, so that no other upload
  // can take it while the data comes; an atomic STOU's hidden file later replaces this empty
  // reservation (and a failed one removes it).
  UniqueFd reserved;
  struct stat reservation = {};
  if (kind == UploadKind::kUnique) {
    reserved.Reset(ReserveUniqueName(path, mode, &target));
    if (!reserved.valid()) {
      return refuse(553, errno == EEXIST  ? "Could not create a unique file name."
                         : errno == EROFS ? "Could not create file: read-only file system."
                                          : "Could not create file.");
    }
    fstat(reserved.get(), &reservation);
  }
  std::string temp;
  UniqueFd file;
  if (in_place) {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY;
    if (kind == UploadKind::kAppend) flags |= O_APPEND;
    if (create_only) flags |= O_EXCL;
    file = reserved.valid() ? std::move(reserved) : UniqueFd(open(target.c_str(), flags, mode));
    if (file.valid() && config_.lock_upload_files) {
      struct flock lock = {};
      lock.l_type = F_WRLCK;
      lock.l_whence = SEEK_SET;
      while (fcntl(file.get(), F_SETLKW, &lock) != 0 && errno == EINTR) {
      }
    }
    // Truncated only once the lock is ours: a second upload of the same file waits for the
    // first instead of cutting it short under its feet.
    if (file.valid() && kind == UploadKind::kStore && offset == 0 &&
        ftruncate(file.get(), 0) != 0) {
      const int err = errno;
      file.Reset();
      errno = err;
    }
    if (file.valid() && offset > 0 &&
        lseek(file.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
      file.Reset();
      if (kind == UploadKind::kUnique) unlinkat(AT_FDCWD, target.c_str(), 0);
      return refuse(554, "Could not seek to the restart position.");
    }
  } else {
    RemoveStaleUploads(dir);
    file.Reset(CreateUploadFile(dir, mode, &temp));
  }
  if (!file.valid()) {
    const int err = errno;
    if (reserved.valid()) unlinkat(AT_FDCWD, target.c_str(), 0);  // the STOU name given back
    return refuse(553, err == EROFS ? "Could not create file: read-only file system."
                                    : "Could not create file.");
  }
  reserved.Reset();
  auto discard = [&]() {
    if (!in_place) {
      unlinkat(AT_FDCWD, temp.c_str(), 0);
      // A failed atomic STOU gives its reserved name back, if it is still the empty file.
      struct stat now;
      if (kind == UploadKind::kUnique && lstat(target.c_str(), &now) == 0 &&
          now.st_dev == reservation.st_dev && now.st_ino == reservation.st_ino &&
          now.st_size == 0) {
        unlinkat(AT_FDCWD, target.c_str(), 0);
      }
    } else if (config_.delete_failed_uploads) {
      unlinkat(AT_FDCWD, target.c_str(), 0);
    }
  };
  std::string shown = SanitizeForLog(SplitDirBase(target).second);
  UniqueFd data = OpenDataConnection(kind == UploadKind::kUnique ? "FILE: " + shown
                                                                 : std::string("Ok to send data."));
  if (!data.valid()) {
    discard();
    return;
  }
  TransferOptions options;
  options.timeout_seconds = config_.data_connection_timeout;
  options.ascii = type_ == TransferType::kAscii && config_.ascii_upload_enable;
  options.max_rate = MaxRate();
  std::uint64_t received = 0;
  int err = 0;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  TransferResult r = ReceiveFile(data.get(), ctrl_, file.get(), options, &received, &err);
  const bool over_tls = data_tls_;
  if (r == TransferResult::kOk) CloseData(data);
  data.Reset();
  // The end of a TLS stream is only the end of the file if the client's side did not break.
  bool close_notify = false;
  if (r == TransferResult::kOk && over_tls && !RequestTlsDataStatus(channel_, true, &close_notify)) {
    r = TransferResult::kDataError;
  }
  // Without close_notify (accepted unless strict_ssl_read_eof, as in vsftpd), the stream may
  // have ended because the client died; its control connection then ends too, through the TLS
  // jail a moment later. A short wait tells the two apart, so a dead client's partial upload
  // never replaces the file. Clients that end uploads properly never wait.
  if (r == TransferResult::kOk && over_tls && !close_notify && ControlGoneWithin(200)) {
    r = TransferResult::kControlClosed;
  }
  if (r == TransferResult::kOk && fsync(file.get()) != 0) {
    err = errno;
    r = TransferResult::kFileError;
  }
  // Over plain FTP the end of the data stream is the end of the file (RFC 959's stream mode),
  // and a client that dies closes both its connections at once; the control connection's end
  // can reach us a moment after the data's (ReceiveFile looked for it then). It is looked for
  // again now that the fsync has passed, just before the previous version is replaced.
  if (r == TransferResult::kOk && !over_tls && ControlGoneWithin(0)) {
    r = TransferResult::kControlClosed;
  }
  // chown_uploads: the monitor gives the file away before it gets its name.
  if (r == TransferResult::kOk && config_.chown_uploads && user_.anonymous_login) {
    RequestChownUpload(channel_, file.get());
  }
  if (r == TransferResult::kOk && !in_place) {
    // Without overwriting where the client may not overwrite; over STOU's own reservation.
    err = PutUploadInPlace(temp, target, !create_only || kind == UploadKind::kUnique);
    if (err != 0) {
      r = TransferResult::kFileError;
    } else {
      SyncDirectory(dir);
    }
  }
  if (r != TransferResult::kOk) discard();
  file.Reset();
  clock_gettime(CLOCK_MONOTONIC, &end);
  long usec = (end.tv_sec - start.tv_sec) * 1000000L + (end.tv_nsec - start.tv_nsec) / 1000;
  Event(kLogInfo, verb, target, ResultName(r), static_cast<std::int64_t>(received), usec);
  if (r == TransferResult::kFileError) {
    if (err == ENOSPC) return (void)ctrl_.Reply(452, "Insufficient storage space: the file was not stored.");
    if (err == EDQUOT) return (void)ctrl_.Reply(552, "Disk quota exceeded: the file was not stored.");
    if (err == EEXIST) return (void)ctrl_.Reply(553, "Could not create file.");
    return (void)ctrl_.Reply(451, "Failure writing to local file.");
  }
  if (r == TransferResult::kDataError) {
    return (void)ctrl_.Reply(426, "Failure reading network stream: the file was not stored.");
  }
  FinishTransfer(r, "Transfer complete.");
}

void Session::Dele(const FtpCommand& c) {
  std::string path;
  if (!MayChangeExisting() || !Resolve(c.arg, &path) || Denied(path)) {
    return Refuse("DELE", Attempted(c.arg), "refused", 550, "Permission denied.");
  }
  if (unlinkat(AT_FDCWD, path.c_str(), 0) != 0) {
    return Refuse("DELE", path, "failed", 550, "Delete operation failed.");
  }
  Event(kLogInfo, "DELE", path, "ok");
  ctrl_.Reply(250, "Delete operation successful.");
}

void Session::Mkd(const FtpCommand& c) {
  std::string path;
  if (!MayMkdir() || !Resolve(c.arg, &path) || Denied(path)) {
    return Refuse("MKD", Attempted(c.arg), "refused", 550, "Permission denied.");
  }
  if (mkdirat(AT_FDCWD, path.c_str(), 0777) != 0) {
    return Refuse("MKD", path, "failed", 550, "Create directory operation failed.");
  }
  Event(kLogInfo, "MKD", path, "ok");
  ctrl_.Reply(257, "\"" + QuoteForReply(path) + "\" created");
}

void Session::Rmd(const FtpCommand& c) {
  std::string path;
  if (!MayChangeExisting() || !Resolve(c.arg, &path) || Denied(path)) {
    return Refuse("RMD", Attempted(c.arg), "refused", 550, "Permission denied.");
  }
  if (path == "/" || unlinkat(AT_FDCWD, path.c_str(), AT_REMOVEDIR) != 0) {
    return Refuse("RMD", path, "failed", 550, "Remove directory operation failed.");
  }
  Event(kLogInfo, "RMD", path, "ok");
  ctrl_.Reply(250, "Remove directory operation successful.");
}

void Session::Rnfr(const FtpCommand& c) {
  rename_from_.clear();
  std::string path;
  if (!MayChangeExisting() || !Resolve(c.arg, &path) || Denied(path)) {
    return Refuse("RNFR", Attempted(c.arg), "refused", 550, "Permission denied.");
  }
  struct stat st;
  if (path == "/" || lstat(path.c_str(), &st) != 0) {
    return Refuse("RNFR", path, "failed", 550, "RNFR command failed.");
  }
  rename_from_ = path;
  ctrl_.Reply(350, "Ready for RNTO.");
}

void Session::Rnto(const FtpCommand& c) {
  std::string from = std::exchange(rename_from_, std::string());
  if (from.empty()) return (void)ctrl_.Reply(503, "RNFR required first.");
  std::string path;
  if (!MayChangeExisting() || !Resolve(c.arg, &path) || Denied(path)) {
    return Refuse("RNTO", from, "refused", 550, "Permission denied.", Attempted(c.arg));
  }
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, path.c_str(), 0) != 0) {
    return Refuse("RNTO", from, "failed", 550, "Rename failed.", path);
  }
  Event(kLogInfo, "RNTO", from, "ok", -1, -1, path);
  ctrl_.Reply(250, "Rename successful.");
}

void Session::Site(const FtpCommand& c) {
  const SiteArgument site = ParseSiteArgument(c.arg);
  const std::string_view rest = site.rest;
  if (site.sub == "HELP") {
    return (void)ctrl_.Reply(214, "CHMOD UMASK HELP");
  }
  if (site.sub == "UMASK") {
    if (rest.empty()) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%04o", umask_);
      return (void)ctrl_.Reply(200, std::string("Your current UMASK is ") + buf);
    }
    unsigned v = 0;
    if (!ParseOctalMode(rest, 0777, &v)) return (void)ctrl_.Reply(501, "Bad UMASK value.");
    if (!config_.write_enable) return (void)ctrl_.Reply(550, "Permission denied.");
    // Anonymous and guest sessions may only add bits to their configured umask (anon_umask, or
    // local_umask for guests with virtual_use_local_privs): a client never makes uploads more
    // readable than the administrator set.
    const bool only_tighten = user_.anonymous || config_.guest_enable;
    const unsigned asked = v;
    if (only_tighten) v |= base_umask_;
    umask_ = v;
    umask(static_cast<mode_t>(v));
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%04o", umask_);
    std::string text = std::string("UMASK set to ") + buf;
    if (v != asked) {
      std::snprintf(buf, sizeof(buf), "%04o", base_umask_);
      text += std::string(" (this session can only add to its umask ") + buf + ")";
    }
    return (void)ctrl_.Reply(200, text);
  }
  if (site.sub == "CHMOD") {
    // Anonymous users never: vsftpd does not allow it either.
    if (!config_.write_enable || !config_.chmod_enable || user_.anonymous) {
      return (void)ctrl_.Reply(550, "Permission denied.");
    }
    const ChmodArgument chmod = ParseChmodArgument(rest);
    if (chmod.outcome == ChmodArgument::kMissingPath) {
      return (void)ctrl_.Reply(501, "SITE CHMOD needs 2 arguments.");
    }
    if (chmod.outcome == ChmodArgument::kBadMode) return (void)ctrl_.Reply(501, "Bad mode.");
    // The mode as the client wrote it, for the logs (vsftpd's CHMOD line has it so).
    const std::string_view given = TrimSpaces(rest);
    const std::string typed(given.substr(0, given.find(' ')));
    std::string path;
    if (!Resolve(chmod.path, &path) || Denied(path)) {
      return Refuse("SITE CHMOD", Attempted(chmod.path), "refused", 550, "Permission denied.", typed);
    }
    // Never setuid or setgid bits from a client.
    const unsigned mode = chmod.mode & 01777;
    if (fchmodat(AT_FDCWD, path.c_str(), static_cast<mode_t>(mode), 0) != 0) {
      return Refuse("SITE CHMOD", path, "failed", 550, "SITE CHMOD command failed.", typed);
    }
    Event(kLogInfo, "SITE CHMOD", path, "ok", -1, -1, typed);
    return (void)ctrl_.Reply(200, "SITE CHMOD command ok.");
  }
  ctrl_.Reply(500, "Unknown SITE command.");
}

}  // namespace

void RunSession(const Config& config, const SessionInfo& session, int channel,
                const SessionUser& user) {
  ControlConnection::SetProtocolLog(config.log_ftp_protocol);
  static NoDestructor<Session> s(config, session, channel, user);  // lives until _exit
  s->Start(user.start);
  s->Run();
}

}  // namespace keepftpd
