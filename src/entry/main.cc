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
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
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
#include "prepare.h"
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
  // Without --config and without the default file (a build not installed yet): the defaults.
  const bool defaults = options.config_path == kDefaultConfigPath &&
                        access(kDefaultConfigPath, F_OK) != 0 && errno == ENOENT;
  Config config = defaults ? Config() : LoadConfigFile(options.config_path, &errors);
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
         JsonString(SeccompCompiledWith()) +
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

// The line of path that sets option (0 when the file leaves it at its default).
unsigned OptionLine(const std::string& path, const std::string& option) {
  if (option.empty()) return 0;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  std::string text(kMaxConfigBytes, '\0');
  ssize_t n = fd.valid() ? read(fd.get(), text.data(), text.size()) : -1;
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  unsigned line = 1;
  for (std::size_t at = 0; at < text.size(); ++line) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view l(text.data() + at, end - at);
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.size() > option.size() && l.substr(0, option.size()) == option &&
        l[option.size()] == '=') {
      return line;
    }
    at = end + 1;
  }
  return 0;
}

// A PrepareSession or certificate error ("option=value: why") as the config file's error: the
// file, the line that sets the option (none when it is left at its default), the option, why.
ConfigError ErrorAt(const std::string& path, const std::string& option, std::string message) {
  if (!option.empty() && message.rfind(option + "=", 0) == 0) message.erase(0, option.size() + 1);
  return {path, OptionLine(path, option), option, std::move(message)};
}

// Everything a connection would check, as the user keepftpd would run as: the file itself, then
// PrepareSession's accounts, lists, directories and files, then the certificate and key as a
// client's AUTH TLS would load them. Errors name the file, the line (when the file sets the
// option) and the option.
std::vector<ConfigError> CheckConfigFile(const std::string& path) {
  std::vector<ConfigError> errors;
  Config config = LoadConfigFile(path, &errors);
  if (!errors.empty()) return errors;
  if (config.run_as_launching_user) {
    // The rootless mode needs an unprivileged user namespace: try one, as the jails will.
    if (geteuid() == 0) {
      errors.push_back({path, OptionLine(path, "run_as_launching_user"), "run_as_launching_user",
                        kRootlessAsRoot});
    } else if (int refused = TryUserNamespace(); refused != 0) {
      errors.push_back({path, 0, "", UserNamespaceRefused(refused)});
    }
  } else if (geteuid() != 0) {
    errors.push_back({path, 0, "",
                      "keepftpd runs as root with this file (run_as_launching_user=NO): check it "
                      "as root, or the accounts and files root would use cannot be checked"});
  }
  if (!errors.empty()) return errors;
  SessionInfo session;
  session.rootless = config.run_as_launching_user;
  bool tls_files_found = true;
  for (const PrepareError& e : PrepareSession(config, Preparation::kCheck, &session)) {
    errors.push_back(ErrorAt(path, e.option, e.message));
    if (e.option == "rsa_cert_file" || e.option == "rsa_private_key_file") tls_files_found = false;
  }
  if (config.ssl_enable && tls_files_found) {
    std::string option;
    std::string problem = CheckTlsFiles(config, &option);
    if (!problem.empty()) errors.push_back(ErrorAt(path, option, problem));
  }
  return errors;
}

int CheckConfig(const Options& options) {
  std::vector<ConfigError> errors = CheckConfigFile(options.config_path);
  for (const ConfigError& e : errors) std::fprintf(stdout, "%s\n", e.ToString().c_str());
  if (!errors.empty()) return 1;
  std::puts("OK");
  return 0;
}

// Refuses the connection: a 421 to the client, the reasons to the log.
[[noreturn]] void Refuse(int conn, const std::vector<std::string>& reasons) {
  for (const std::string& r : reasons) Log(kLogErr, r);
  Log(kLogErr, "connection refused: the configuration cannot serve it (keepftpd --check-config "
               "lists what to fix)");
  const char kReply[] =
      "421 Service not available: the server is misconfigured; the administrator can see why in "
      "its log.\r\n";
  send(conn, kReply, sizeof(kReply) - 1, MSG_NOSIGNAL);
  _exit(1);
}

std::string NewSessionId() {
  unsigned char bytes[16] = {};
  if (getrandom(bytes, sizeof(bytes), 0) != sizeof(bytes)) {
    // getrandom cannot fail on a booted kernel with these arguments; a fixed id is still unique
    // enough alongside the pid in every log record.
  }
  return LowerHex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

// A small text file, or "" when it cannot be read.
// Up to size bytes of fd (fewer if the file ends first, or on an error).
std::string ReadUpTo(int fd, std::size_t size) {
  std::string text(size, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

std::string ReadSmallFile(const std::string& path, std::size_t max) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  struct stat st;
  if (!fd.valid() || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  return ReadUpTo(fd.get(), std::min<std::size_t>(static_cast<std::size_t>(st.st_size), max));
}

// The vsftpd package as dpkg knows it: the file list dpkg -S and dpkg -L read.
VsftpdPackage VsftpdPackageHere() {
  VsftpdPackage package;
  const std::string list = ReadSmallFile("/var/lib/dpkg/info/vsftpd.list", 1 << 20);
  package.installed = !list.empty();
  for (std::string_view line : Split(list, '\n')) {
    if (!line.empty()) package.files.emplace_back(line);
  }
  return package;
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
  const std::string text = ReadUpTo(fd.get(), static_cast<std::size_t>(st.st_size));
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
  // What the result still takes from vsftpd's package or by its names.
  std::vector<ConfigError> parse_errors;
  const Config converted = ParseConfig(m.keepftpd_conf, "keepftpd.conf", &parse_errors);
  if (parse_errors.empty()) {
    std::string pam_text;  // the service's rules: /etc/pam.d, else the vendor directory
    for (const char* pam_dir : {"/etc/pam.d/", "/usr/lib/pam.d/"}) {
      if (pam_text.empty() && converted.pam_service_name.find('/') == std::string::npos) {
        pam_text = ReadSmallFile(pam_dir + converted.pam_service_name, 1 << 16);
      }
    }
    m.from_vsftpd = VsftpdDependencies(converted, pam_text, VsftpdPackageHere());
  }
  // The same check as --check-config, on this machine: each failure is a decision to make.
  for (const ConfigError& e : CheckConfigFile(dir + "/keepftpd.conf")) {
    m.decide.push_back("--check-config here: " + e.ToString());
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
  for (const PrepareError& e : PrepareSession(config, Preparation::kServe, &session)) {
    errors.push_back(e.message);
  }
  if (!errors.empty()) Refuse(conn, errors);

  RunMonitor(config, session);
}

}  // namespace keepftpd

#ifndef KEEPFTPD_MAIN_UNDER_TEST  // tests/unit/main_test.cc calls Main itself
int main(int argc, char** argv) { return keepftpd::Main(argc, argv); }
#endif
