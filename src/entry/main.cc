// keepftpd's entry: the process the superserver execs for one connection. As root it finds the
// connection, tidies descriptors, reads and checks the config, resolves the accounts and reads
// what only root may read; then it becomes the monitor. Entry process only.
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "main.h"

#include "activation.h"
#include "build_config.h"
#include "config.h"
#include "log.h"
#include "login_rules.h"
#include "migrate.h"
#include "openssl_library.h"
#include "monitor.h"
#include "session.h"
#include "strutil.h"
#include "tls.h"
#include "unique_fd.h"
#include "proctitle.h"
#include "ftp_features.h"
#include "hash.h"
#include "jail_start.h"
#include "listing.h"

namespace keepftpd {
namespace {

constexpr const char* kUsage =
    "Usage: keepftpd [--config FILE] [--check-config] [--features --json] [--version] [--help]\n"
    "       keepftpd --from-vsftpd VSFTPD_CONF [--out DIR]\n"
    "\n"
    "Serves one FTP connection. keepftpd is started per connection by its superserver:\n"
    "systemd (ftp.socket with Accept=yes) or xinetd/inetd. See keepftpd(8).\n"
    "\n"
    "  --config FILE   configuration file (default /etc/keepftpd.conf)\n"
    "  --check-config  check the configuration, print every error or OK, and exit\n"
    "  --features --json\n"
    "                  print the FEAT list, every option's effective value for the\n"
    "                  configuration and the build's features as JSON, and exit\n"
    "  --from-vsftpd VSFTPD_CONF [--out DIR]\n"
    "                  convert a vsftpd configuration: write DIR/keepftpd.conf,\n"
    "                  DIR/ftp.socket.d/override.conf and DIR/xinetd.d/keepftpd\n"
    "                  (DIR: the current directory), print what changed, and exit\n"
    "  --version       print the version and exit\n"
    "  --help          print this help and exit\n";

constexpr std::size_t kMaxBannerFile = 8192;

struct Options {
  std::string config_path = kDefaultConfigPath;
  bool check_config = false;
  bool features = false;
  bool json = false;
  std::string from_vsftpd;  // --from-vsftpd FILE
  std::string out_dir = ".";
};

// Returns -1 to go on serving, otherwise the exit status.
int ParseArgs(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version" || a == "-v") {
      std::puts("keepftpd " KEEPFTPD_VERSION);
      return 0;
    }
    if (a == "--check-config") {
      options->check_config = true;
    } else if (a == "--features") {
      options->features = true;
    } else if (a == "--json") {
      options->json = true;
    } else if (a == "--from-vsftpd" && i + 1 < argc) {
      options->from_vsftpd = argv[++i];
    } else if (a == "--out" && i + 1 < argc) {
      options->out_dir = argv[++i];
    } else if (a == "--config" && i + 1 < argc) {
      options->config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      options->config_path = a.substr(9);
    } else {
      std::fprintf(stderr, "keepftpd: unknown argument '%s'\n\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  return -1;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// --features --json: for packagers and monitoring.
int PrintFeatures(const Options& options) {
  if (!options.json) {
    std::fputs("keepftpd: --features needs --json (the only format)\n", stderr);
    return 2;
  }
  std::vector<ConfigError> errors;
  Config config = LoadConfigFile(options.config_path, &errors);
  if (!errors.empty()) {
    for (const ConfigError& e : errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return 1;
  }
  std::string out = "{\n  \"version\": " + JsonString(KEEPFTPD_VERSION) + ",\n  \"feat\": [";
  bool first = true;
  for (const std::string& line :
       FeatureLines(MlstFacts().FeatString(), HashFeatString(HashAlgorithm::kSha256),
                    config.ssl_enable)) {
    out += std::string(first ? "" : ", ") + JsonString(TrimSpaces(line));
    first = false;
  }
  out += "],\n  \"options\": {";
  first = true;
  auto add = [&](const char* name, const std::string& value) {
    out += std::string(first ? "\n" : ",\n") + "    " + JsonString(name) + ": " + value;
    first = false;
  };
#define KEEPFTPD_BOOL(name, def, vsftpd_default, help) add(#name, config.name ? "true" : "false");
#define KEEPFTPD_UINT(name, def, min, max, kind, help) add(#name, std::to_string(config.name));
#define KEEPFTPD_STR(name, def, kind, help) add(#name, JsonString(config.name));
#include "tunables.def"
#undef KEEPFTPD_BOOL
#undef KEEPFTPD_UINT
#undef KEEPFTPD_STR
  out += "\n  },\n  \"vsftpd_options\": [";
  first = true;
  for (const VsftpdOption& o : VsftpdOptions()) {
    out += std::string(first ? "\n" : ",\n") + "    {\"name\": " + JsonString(o.name) +
           ", \"type\": " + JsonString(std::string(1, o.type)) +
           ", \"status\": " + JsonString(VsftpdStatusName(o.status)) +
           ", \"vsftpd_default\": " + JsonString(o.vsftpd_default) +
           ", \"sample\": " + JsonString(o.sample) + ", \"note\": " + JsonString(o.note) + "}";
    first = false;
  }
  out += "\n  ]";
  const std::string openssl =
      LoadOpenSsl().ok() ? OpenSSL_version(OPENSSL_VERSION) : "not loadable";
  out += ",\n  \"build\": {\n    \"openssl\": " + JsonString(openssl) +
         ",\n    \"libseccomp\": " +
         JsonString(std::to_string(seccomp_version()->major) + "." +
                    std::to_string(seccomp_version()->minor) + "." +
                    std::to_string(seccomp_version()->micro)) +
         ",\n    \"test_hooks\": " + (KEEPFTPD_TEST_HOOKS ? "true" : "false") +
         ",\n    \"tls\": true,\n    \"pam\": true\n  }\n}\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

constexpr const char* kNeedsRoot =
    "keepftpd must be started as root (it needs to chroot and change user), or set "
    "run_as_launching_user=YES for the rootless mode";
constexpr const char* kRootlessAsRoot =
    "run_as_launching_user=YES, but keepftpd was started as root: the rootless mode is for "
    "normal users (start it as the user whose files it serves), or set run_as_launching_user=NO";

// 0 when this process may create a user namespace, else the errno it got (in a child).
int TryUserNamespace() {
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : (errno & 0x7f));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : EPERM;
}

int CheckConfig(const Options& options) {
  std::vector<ConfigError> errors;
  Config config = LoadConfigFile(options.config_path, &errors);
  if (errors.empty() && config.run_as_launching_user) {
    // The rootless mode needs an unprivileged user namespace: try one, as the jails will.
    if (geteuid() == 0) {
      errors.push_back({options.config_path, 0, "run_as_launching_user", kRootlessAsRoot});
    } else if (int refused = TryUserNamespace(); refused != 0) {
      errors.push_back({options.config_path, 0, "", UserNamespaceRefused(refused)});
    }
  }
  if (errors.empty() && config.ssl_enable) {
    // The certificate and key as a client's AUTH TLS would load them.
    std::string problem = CheckTlsFiles(config);
    if (!problem.empty()) errors.push_back({options.config_path, 0, "", problem});
  }
  for (const ConfigError& e : errors) std::fprintf(stdout, "%s\n", e.ToString().c_str());
  if (!errors.empty()) return 1;
  std::puts("OK");
  return 0;
}

// Refuses the connection: a 421 to the client, the reasons to the log.
[[noreturn]] void Refuse(int conn, const std::vector<std::string>& reasons) {
  for (const std::string& r : reasons) Log(kLogErr, r);
  const char kReply[] =
      "421 Service not available: the server is misconfigured; the administrator can see why in "
      "its log.\r\n";
  send(conn, kReply, sizeof(kReply) - 1, MSG_NOSIGNAL);
  _exit(1);
}

bool LookUpAccount(const std::string& name, const char* option, Account* out,
                   std::vector<std::string>* errors) {
  errno = 0;
  passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) {
    errors->push_back(std::string(option) + "=" + name + ": no such user");
    return false;
  }
  if (pw->pw_uid == 0) {
    errors->push_back(std::string(option) + "=" + name + ": must not be root (uid 0)");
    return false;
  }
  out->name = name;
  out->uid = pw->pw_uid;
  out->gid = pw->pw_gid;
  out->home = pw->pw_dir != nullptr ? pw->pw_dir : "";
  return true;
}

// Rootless: the user who started keepftpd, who every process stays.
void LookUpLauncher(Account* out, std::vector<std::string>* errors) {
  passwd* pw = getpwuid(getuid());
  out->uid = getuid();
  out->gid = getgid();
  if (pw == nullptr) {
    errors->push_back("run_as_launching_user=YES: uid " + std::to_string(getuid()) +
                      " is not in the passwd database");
    return;
  }
  out->name = pw->pw_name;
  out->home = pw->pw_dir != nullptr ? pw->pw_dir : "";
}

// secure_chroot_dir must be an empty directory owned by root (rootless: or by the launching
// user) and writable by nobody else.
void CheckSecureChroot(const std::string& dir, bool rootless, std::vector<std::string>* errors) {
  struct stat st;
  std::string fix = rootless ? " (create it with: mkdir -p " + dir + " && chmod 555 " + dir + ")"
                             : " (create it with: mkdir -p " + dir + " && chown root:root " + dir +
                                   " && chmod 755 " + dir + ")";
  if (stat(dir.c_str(), &st) != 0) {
    errors->push_back("secure_chroot_dir=" + dir + ": " + std::strerror(errno) + fix);
    return;
  }
  const bool owner_ok = st.st_uid == 0 || (rootless && st.st_uid == getuid());
  if (!S_ISDIR(st.st_mode) || !owner_ok || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    errors->push_back("secure_chroot_dir=" + dir +
                      (rootless ? ": must be a directory owned by root or by you and not "
                                  "writable by group or others"
                                : ": must be a directory owned by root and not writable by group "
                                  "or others") +
                      fix);
    return;
  }
  UniqueDir d(opendir(dir.c_str()));
  if (d == nullptr) {
    errors->push_back("secure_chroot_dir=" + dir + ": " + std::strerror(errno) + fix);
    return;
  }
  while (dirent* e = readdir(d.get())) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      errors->push_back("secure_chroot_dir=" + dir + ": must be empty, but contains " +
                        SanitizeForLog(e->d_name) +
                        " (empty it, or set secure_chroot_dir to an empty directory)");
      break;
    }
  }
}

std::string NewSessionId() {
  unsigned char bytes[16] = {};
  if (getrandom(bytes, sizeof(bytes), 0) != sizeof(bytes)) {
    // getrandom cannot fail on a booted kernel with these arguments; a fixed id is still unique
    // enough alongside the pid in every log record.
  }
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

bool PamServiceExists(std::string_view name) {
  return access(("/etc/pam.d/" + std::string(name)).c_str(), F_OK) == 0;
}

// --from-vsftpd: run by an administrator at a shell; reads one file, writes three new ones.
int FromVsftpd(const Options& options) {
  constexpr std::size_t kMaxInput = 1 << 20;
  UniqueFd fd(open(options.from_vsftpd.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  struct stat st;
  if (!fd.valid() || fstat(fd.get(), &st) != 0) {
    std::fprintf(stderr, "keepftpd: %s: %s\n", options.from_vsftpd.c_str(), std::strerror(errno));
    return 1;
  }
  if (!S_ISREG(st.st_mode) || static_cast<std::size_t>(st.st_size) > kMaxInput) {
    std::fprintf(stderr, "keepftpd: %s: not a regular file of at most 1 MiB\n",
                 options.from_vsftpd.c_str());
    return 1;
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd.get(), text.data() + got, text.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  Migration m = MigrateVsftpdConfig(text, options.from_vsftpd, PamServiceExists);
  const std::string& dir = options.out_dir;
  const std::pair<std::string, const std::string*> files[] = {
      {dir + "/keepftpd.conf", &m.keepftpd_conf},
      {dir + "/ftp.socket.d/override.conf", &m.socket_dropin},
      {dir + "/xinetd.d/keepftpd", &m.xinetd_entry},
  };
  for (const auto& [path, content] : files) {
    if (access(path.c_str(), F_OK) == 0) {
      std::fprintf(stderr, "keepftpd: %s exists; remove it or choose another --out DIR\n",
                   path.c_str());
      return 1;
    }
  }
  for (const std::string& d : {dir, dir + "/ftp.socket.d", dir + "/xinetd.d"}) {
    if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
      std::fprintf(stderr, "keepftpd: %s: %s\n", d.c_str(), std::strerror(errno));
      return 1;
    }
  }
  for (const auto& [path, content] : files) {
    UniqueFd out(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!out.valid() ||
        write(out.get(), content->data(), content->size()) !=
            static_cast<ssize_t>(content->size())) {
      std::fprintf(stderr, "keepftpd: %s: %s\n", path.c_str(), std::strerror(errno));
      return 1;
    }
  }
  std::printf("keepftpd --from-vsftpd %s: wrote %s/keepftpd.conf, %s/ftp.socket.d/override.conf "
              "and %s/xinetd.d/keepftpd\n\n%s",
              options.from_vsftpd.c_str(), dir.c_str(), dir.c_str(), dir.c_str(),
              FormatMigrationReport(m, dir).c_str());
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  InitProcTitle(argc, argv);
  Options options;
  int rc = ParseArgs(argc, argv, &options);
  if (rc >= 0) return rc;
  if (!options.from_vsftpd.empty()) return FromVsftpd(options);
  if (options.check_config) return CheckConfig(options);
  if (options.features || options.json) return PrintFeatures(options);

  Result<Activation> act = FindConnection();
  if (!act.ok()) {
    std::fprintf(stderr, "keepftpd: %s\n", act.status().message().c_str());
    return 2;
  }
  UseMonitorLogSink(act->stderr_usable);
  prctl(PR_SET_DUMPABLE, 0);
  umask(077);

  SessionInfo session;
  session.control_fd = act->connection.Release();
  int conn = session.control_fd;
  int one = 1;
  setsockopt(conn, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));  // urgent ABOR bytes inline
  setsockopt(conn, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  // Replies are whole lines written at once; without this the 226 after a transfer waits for
  // the client's delayed ACK of the 150 (about 40 ms per file).
  setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  Result<SockAddr> peer = SockAddr::FromPeer(conn);
  Result<SockAddr> local = SockAddr::FromLocal(conn);
  if (!peer.ok() || !local.ok()) return 1;  // the client is already gone
  session.peer = *peer;
  session.local = *local;
  session.session_id = NewSessionId();
  LogContext& ctx = MonitorLogContext();
  ctx.session_id = session.session_id;
  ctx.remote_addr = session.peer.HostString();
  ctx.remote_port = std::to_string(session.peer.port());

  std::vector<ConfigError> config_errors;
  Config config = LoadConfigFile(options.config_path, &config_errors);
  EnableProcTitle(config_errors.empty() && config.setproctitle_enable);
  if (!config_errors.empty()) {
    std::vector<std::string> reasons;
    for (const ConfigError& e : config_errors) reasons.push_back(e.ToString());
    if (geteuid() != 0) reasons.push_back(kNeedsRoot);
    reasons.push_back("refusing to serve with a broken configuration; check it with keepftpd "
                      "--check-config --config " + options.config_path);
    Refuse(conn, reasons);
  }
  session.rootless = config.run_as_launching_user;
  if (!session.rootless && geteuid() != 0) Refuse(conn, {kNeedsRoot});
  if (session.rootless && geteuid() == 0) Refuse(conn, {kRootlessAsRoot});

  if (config.syslog_enable) UseSyslog();
  std::vector<std::string> errors;
  if (session.rootless) {
    // Every process is the launching user; the jails' chroots come from user namespaces.
    LookUpLauncher(&session.nopriv, &errors);
    session.anonymous = session.nopriv;
    session.anonymous.name = config.ftp_username;
    if (config.anonymous_enable) {
      Account ftp;
      if (!config.anon_root.empty()) {
        session.anon_root = config.anon_root;
      } else if (LookUpAccount(config.ftp_username, "ftp_username", &ftp, &errors)) {
        session.anon_root = ftp.home;
      }
    }
  } else {
    LookUpAccount(config.nopriv_user, "nopriv_user", &session.nopriv, &errors);
    if (config.anonymous_enable &&
        LookUpAccount(config.ftp_username, "ftp_username", &session.anonymous, &errors)) {
      session.anon_root = config.anon_root.empty() ? session.anonymous.home : config.anon_root;
    }
  }
  // The lists are read now, like the banner: the pre-login jail checks the user list at USER
  // (and the monitor again at login); neither can open files later.
  if (config.local_enable && config.userlist_enable) {
    Status s = ReadNameList(config.userlist_file, &session.user_list);
    if (!s.ok()) errors.push_back("userlist_file: " + s.message());
  }
  if (config.anonymous_enable && config.deny_email_enable) {
    Status s = ReadNameList(config.banned_email_file, &session.banned_emails);
    if (!s.ok()) errors.push_back("banned_email_file: " + s.message());
  }
  if (config.anonymous_enable && config.secure_email_list_enable) {
    Status s = ReadNameList(config.email_password_file, &session.email_passwords);
    if (!s.ok()) errors.push_back("email_password_file: " + s.message());
  }
  if (config.local_enable && config.chroot_list_enable) {
    Status s = ReadNameList(config.chroot_list_file, &session.chroot_list);
    if (!s.ok()) errors.push_back("chroot_list_file: " + s.message());
  }
  if (config.anonymous_enable && config.chown_uploads) {
    passwd* pw = getpwnam(config.chown_username.c_str());
    if (pw == nullptr) {
      errors.push_back("chown_username=" + config.chown_username + ": no such user");
    } else {
      session.chown_owner.name = config.chown_username;
      session.chown_owner.uid = pw->pw_uid;
      session.chown_owner.gid = pw->pw_gid;
    }
  }
  CheckSecureChroot(config.secure_chroot_dir, session.rootless, &errors);
  if (config.ssl_enable) {
    // A missing or unreadable certificate or key refuses the connection at once, as vsftpd
    // refuses to start. (Parsing them waits for AUTH TLS: most connections never ask.)
    for (const std::string* file : {&config.rsa_cert_file, &config.rsa_private_key_file}) {
      if (file->empty()) continue;
      UniqueFd fd(open(file->c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
      if (!fd.valid()) {
        errors.push_back((file == &config.rsa_cert_file ? "rsa_cert_file=" : "rsa_private_key_file=") +
                         *file + ": " + std::strerror(errno));
      }
    }
  }
  if (config.xferlog_enable) {
    // Opened now, as root: no process can open them later.
    auto open_log = [&](const std::string& path, const char* option) {
      int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0) errors.push_back(std::string(option) + "=" + path + ": " + std::strerror(errno));
      return fd;
    };
    const bool std_format = config.xferlog_std_format;
    // syslog_enable: vsftpd's lines go to syslog, and vsftpd_log_file is not used.
    const bool vsftpd_format = !std_format || config.dual_log_enable;
    int vsftpd_fd = vsftpd_format && !config.syslog_enable
                        ? open_log(config.vsftpd_log_file, "vsftpd_log_file") : -1;
    int xferlog_fd = std_format || config.dual_log_enable
                         ? open_log(config.xferlog_file, "xferlog_file") : -1;
    UseTransferLogs(vsftpd_fd, xferlog_fd, vsftpd_format && config.syslog_enable);
  }
  if (!config.banner_file.empty()) {
    UniqueFd fd(open(config.banner_file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) {
      errors.push_back("banner_file=" + config.banner_file + ": " + std::strerror(errno));
    } else {
      std::string text(kMaxBannerFile, '\0');
      ssize_t n = read(fd.get(), text.data(), text.size());
      text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
      session.banner_text = text;
    }
  }
  if (!errors.empty()) Refuse(conn, errors);

  RunMonitor(config, session);
}

}  // namespace keepftpd

#ifndef KEEPFTPD_MAIN_UNDER_TEST  // tests/unit/main_test.cc calls Main itself
int main(int argc, char** argv) { return keepftpd::Main(argc, argv); }
#endif
