// keepftpd --from-vsftpd: the conversion and its report (migrate.h). Entry process only, run by an
// administrator from the command line.
#include "migrate.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "build_config.h"
#include "config.h"
#include "strutil.h"

namespace keepftpd {

namespace {

// Where this build installs the server and its configuration, as the shipped units and xinetd
// entries name them (/usr/sbin and /etc with the prefix /usr).
constexpr const char* kInstalledBinary = KEEPFTPD_SBINDIR "/keepftpd";
constexpr const char* kInstalledConfig = KEEPFTPD_SYSCONFDIR "/keepftpd.conf";

const VsftpdOption* FindVsftpd(std::string_view name) {
  for (const VsftpdOption& o : VsftpdOptions()) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

bool IsKeepftpdOption(std::string_view name) {
  for (std::string_view n : KeepftpdOptionNames()) {
    if (n == name) return true;
  }
  return false;
}

// keepftpd's parser on one line: its message, or "" when the line is fine.
std::string CheckLine(std::string_view name, std::string_view value) {
  std::vector<ConfigError> errors;
  ParseConfig(std::string(name) + "=" + std::string(value) + "\n", "line", &errors);
  return errors.empty() ? "" : errors[0].message;
}

// vsftpd's booleans: YES, TRUE or 1 and NO, FALSE or 0, any case.
std::optional<bool> VsftpdBool(std::string_view value) {
  std::string v = AsciiUpper(value);
  if (v == "YES" || v == "TRUE" || v == "1") return true;
  if (v == "NO" || v == "FALSE" || v == "0") return false;
  return std::nullopt;
}

// vsftpd reads numbers with atoi: the leading digits, the rest ignored.
std::string LeadingDigits(std::string_view value) {
  std::size_t n = 0;
  while (n < value.size() && value[n] >= '0' && value[n] <= '9') ++n;
  return std::string(value.substr(0, n));
}

// The options that set where and how many connections are accepted: the superserver's now.
constexpr std::string_view kNetworkOptions[] = {
    "background", "listen",     "listen_address", "listen_address6", "listen_ipv6",
    "listen_port", "max_clients", "max_per_ip",   "one_process_model", "tcp_wrappers",
};

bool IsNetworkOption(std::string_view name) {
  return std::find(std::begin(kNetworkOptions), std::end(kNetworkOptions), name) !=
         std::end(kNetworkOptions);
}

std::string At(unsigned line) { return "line " + std::to_string(line) + ": "; }

// vsftpd's own empty directory for its chroots, made by its package's tmpfiles.d entry
// (Debian: /var/run/vsftpd/empty); Fedora's and Arch's vsftpd use /usr/share/empty, keepftpd's
// default.
bool IsVsftpdChrootDir(std::string_view dir) {
  return dir.rfind("/var/run/vsftpd/", 0) == 0 || dir.rfind("/run/vsftpd/", 0) == 0;
}

// keepftpd's name for one of vsftpd's paths: "vsftpd" becomes "keepftpd" in the first component
// that has it (/etc/vsftpd.user_list -> /etc/keepftpd.user_list, /etc/vsftpd/.passwd ->
// /etc/keepftpd/.passwd); a path of the package without the name gets a "keepftpd." prefix to
// its last component (/etc/ftpusers -> /etc/keepftpd.ftpusers).
std::string KeepftpdPathFor(std::string_view path) {
  std::string out(path);
  const std::size_t at = out.find("vsftpd");
  if (at != std::string::npos) {
    std::size_t end = out.find('/', at);
    if (end == std::string::npos) end = out.size();
    std::string component = out.substr(at, end - at);
    for (std::size_t i = component.find("vsftpd"); i != std::string::npos;
         i = component.find("vsftpd", i + 8)) {
      component.replace(i, 6, "keepftpd");
    }
    return out.substr(0, at) + component + out.substr(end);
  }
  const std::size_t slash = out.rfind('/');
  return out.substr(0, slash + 1) + "keepftpd." + out.substr(slash + 1);
}

// The directory of path, when keepftpd's name for it is in a directory that vsftpd's name was
// not (/etc/keepftpd for /etc/vsftpd/.passwd): it must be made first.
std::string NewParent(std::string_view from, std::string_view to) {
  const std::string_view from_dir = from.substr(0, from.rfind('/'));
  const std::string_view to_dir = to.substr(0, to.rfind('/'));
  return from_dir == to_dir ? std::string() : std::string(to_dir);
}

// Why one of vsftpd's paths matters: whose it is.
std::string Whose(std::string_view path, const VsftpdPackage& package) {
  const bool listed =
      std::find(package.files.begin(), package.files.end(), path) != package.files.end();
  if (listed) return "belongs to the vsftpd package (dpkg -S " + std::string(path) +
                     "): apt-get purge vsftpd deletes it";
  if (!package.installed && path.find("vsftpd") == std::string_view::npos) {
    return "belongs to the vsftpd package on Debian: apt-get purge vsftpd deletes it";
  }
  return "is named after vsftpd";
}

// The commands that copy one of vsftpd's files or directories to keepftpd's name.
std::string CopyCommands(std::string_view from, const std::string& to, bool directory) {
  std::string parent = NewParent(from, to);
  return (parent.empty() ? "" : "mkdir -p " + parent + "; ") +
         (directory ? "cp -a " : "cp -p ") + std::string(from) + " " + to;
}

}  // namespace

Migration MigrateVsftpdConfig(std::string_view text, std::string_view input_name,
                              bool (*pam_service_exists)(std::string_view name)) {
  Migration m;
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  // vsftpd lets a later line override an earlier one.
  std::map<std::string, unsigned, std::less<>> last;
  for (unsigned i = 0; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    std::size_t eq = l.find('=');
    if (l.empty() || l[0] == '#' || eq == std::string_view::npos) continue;
    last[std::string(l.substr(0, eq))] = i + 1;
  }

  std::map<std::string, std::string, std::less<>> network;  // network option -> value
  std::map<std::string, std::string, std::less<>> kept;     // option -> value written
  std::string& out = m.keepftpd_conf;
  out = "# keepftpd.conf converted by keepftpd --from-vsftpd from " + SanitizeForLog(input_name) +
        ".\n# Lines keepftpd does not take are kept as comments, marked [...]; the report said "
        "why.\n\n";
  for (unsigned i = 0; i < lines.size(); ++i) {
    const unsigned number = i + 1;
    std::string_view l = lines[i];
    if (l.empty() || l[0] == '#' || TrimSpaces(l).empty()) {
      out += std::string(l) + "\n";
      continue;
    }
    const std::string shown = SanitizeForLog(l);
    std::size_t eq = l.find('=');
    if (eq == std::string_view::npos) {
      out += "# [not an option=value line] " + shown + "\n";
      m.decide.push_back(At(number) + "'" + shown + "' is not an option=value line; left out");
      continue;
    }
    std::string_view name = l.substr(0, eq), value = l.substr(eq + 1);
    if (last[std::string(name)] != number) {
      out += "# [set again on line " + std::to_string(last[std::string(name)]) + "] " + shown +
             "\n";
      m.changed.push_back(At(number) + SanitizeForLog(name) + " is set again on line " +
                          std::to_string(last[std::string(name)]) +
                          "; the later value is kept, as vsftpd did");
      continue;
    }
    if (IsNetworkOption(name)) {
      network[std::string(name)] = std::string(value);
      out += "# [now the socket unit's or the xinetd entry's] " + shown + "\n";
      continue;
    }
    const VsftpdOption* v = FindVsftpd(name);
    if (v == nullptr && !IsKeepftpdOption(name)) {
      out += "# [unknown option] " + shown + "\n";
      m.decide.push_back(At(number) + SanitizeForLog(name) +
                         " is neither a vsftpd nor a keepftpd option; left out");
      continue;
    }
    if (v != nullptr && v->status == VsftpdStatus::kRefused) {
      out += "# [refused] " + shown + "\n";
      m.decide.push_back(At(number) + shown + ": " + v->note + "; left out");
      continue;
    }
    if (name == "secure_chroot_dir" && IsVsftpdChrootDir(value)) {
      // An empty directory and nothing else: keepftpd's own does the same, and vsftpd's goes
      // with its package. Files with the administrator's data are never renamed here (the
      // report says how, VsftpdDependencies).
      out += "# [vsftpd's; keepftpd's default, /usr/share/empty, is used] " + shown + "\n";
      m.changed.push_back(
          At(number) + shown +
          ": left out. This empty directory is made by the vsftpd package's tmpfiles.d entry and "
          "goes with the package; keepftpd's default, /usr/share/empty, is the same and is made "
          "by keepftpd's own tmpfiles.d entry (where the system lacks it, systemd-tmpfiles "
          "--create keepftpd.conf makes it now)");
      continue;
    }
    if (name == "seccomp_sandbox" && VsftpdBool(value) == false) {
      // The usual workaround for vsftpd's sandbox on newer libcs; keepftpd's is tested against
      // the libc it runs on, and turning it off would weaken every session.
      out += "# [left out: keepftpd's seccomp sandbox works with this libc] " + shown + "\n";
      m.decide.push_back(At(number) + shown +
                         ": left out. vsftpd needed it where its sandbox missed calls of newer "
                         "C libraries (newfstatat); keepftpd's allowlists are tested against the "
                         "libc it runs on. Should a session end with a logged seccomp violation, "
                         "seccomp_log_only=YES helps find the call; report it");
      continue;
    }
    std::string written(value);
    std::string problem = CheckLine(name, written);
    if (!problem.empty() && v != nullptr && v->type == 'U' && !LeadingDigits(value).empty() &&
        CheckLine(name, LeadingDigits(value)).empty()) {
      written = LeadingDigits(value);
      problem.clear();
      m.changed.push_back(At(number) + SanitizeForLog(name) + "=" + SanitizeForLog(value) +
                          " is written as " + SanitizeForLog(name) + "=" + written +
                          ": vsftpd read only the leading digits; keepftpd allows nothing after "
                          "them");
    }
    if (!problem.empty()) {
      out += "# [refused: " + problem + "] " + shown + "\n";
      m.decide.push_back(At(number) + shown + ": " + problem + "; left out");
      continue;
    }
    out += std::string(name) + "=" + written + "\n";
    kept[std::string(name)] = written;
    if (v != nullptr && v->status == VsftpdStatus::kMapped) {
      m.changed.push_back(At(number) + SanitizeForLog(name) + "=" + SanitizeForLog(written) +
                          ": " + v->note);
    } else {
      m.same.push_back(std::string(name));
    }
  }

  // Options left at their default whose default is not vsftpd's.
  std::string added;
  auto add = [&](const std::string& name, const std::string& value) {
    added += name + "=" + value + "\n";
    kept[name] = value;
  };
  auto is_set = [&](std::string_view name) { return kept.find(name) != kept.end(); };
  auto is_yes = [&](std::string_view name) {
    auto it = kept.find(name);
    std::optional<bool> b = it == kept.end() ? std::nullopt : VsftpdBool(it->second);
    return b.value_or(KeepftpdDefault(name) == "YES");
  };
  if (!is_set("anonymous_enable")) {
    add("anonymous_enable", "NO");
    m.decide.push_back(
        "anonymous_enable is not set: vsftpd's default is YES, but NO in Debian's and Ubuntu's "
        "packages; the converted file says NO. Set anonymous_enable=YES if the server offered "
        "anonymous logins");
  }
  if (!is_set("pam_service_name")) {
    std::string service =
        pam_service_exists("vsftpd") && !pam_service_exists("ftp") ? "vsftpd" : "ftp";
    add("pam_service_name", service);
    m.changed.push_back("pam_service_name is not set: the converted file says " + service +
                        ", the PAM service vsftpd used (keepftpd's own default is keepftpd, "
                        "/etc/pam.d/keepftpd)");
  }
  for (const VsftpdOption& o : VsftpdOptions()) {
    if (o.status != VsftpdStatus::kImplemented || o.note.empty() || is_set(o.name)) continue;
    if (o.name == "ssl_ciphers" && !is_yes("ssl_enable")) continue;
    m.changed.push_back(std::string(o.name) + " is not set: " + o.note + " (vsftpd's was " +
                        (o.vsftpd_default.empty() ? "unset" : std::string(o.vsftpd_default)) +
                        ")");
  }
  if (is_yes("local_enable") && !pam_service_exists(kept["pam_service_name"])) {
    m.decide.push_back("local_enable=YES, but /etc/pam.d/" + kept["pam_service_name"] +
                       " does not exist: local logins would fail. Use "
                       "pam_service_name=keepftpd (installed with keepftpd) or create it");
  }
  if (is_yes("write_enable") && !is_set("atomic_uploads")) {
    m.changed.push_back(
        "uploads are atomic (atomic_uploads=YES, keepftpd's default): STOR writes a temporary "
        "file and renames it over the old one once complete and on disk, where vsftpd "
        "overwrote in place; atomic_uploads=NO restores vsftpd's way");
  }
  m.changed.push_back(
      "limits vsftpd did not have apply: max_command_rate=" + KeepftpdDefault("max_command_rate") +
      " commands per second, and failed logins counted across connections "
      "(ban_max_login_fails=" + KeepftpdDefault("ban_max_login_fails") + " within ban_window=" +
      KeepftpdDefault("ban_window") + " seconds ban the address for ban_time=" +
      KeepftpdDefault("ban_time") + "); see keepftpd.conf(5)");
  if (!added.empty()) {
    out += "\n# Added by keepftpd --from-vsftpd (see its report):\n" + added;
  }

  // Where connections are accepted: ftp.socket and the xinetd entry.
  auto net_yes = [&](std::string_view name) {
    auto it = network.find(name);
    return it != network.end() && VsftpdBool(it->second).value_or(false);
  };
  auto net_number = [&](std::string_view name, const std::string& fallback) {
    auto it = network.find(name);
    std::string digits = it == network.end() ? "" : LeadingDigits(it->second);
    return digits.empty() ? fallback : std::to_string(std::stoul(digits.substr(0, 9)));
  };
  auto net_str = [&](std::string_view name) {
    auto it = network.find(name);
    return it == network.end() ? std::string() : SanitizeForLog(it->second);
  };
  const bool v4 = net_yes("listen"), v6 = net_yes("listen_ipv6");
  const std::string port = net_number("listen_port", "21");
  const std::string max_clients = net_number("max_clients", "0");
  const std::string max_per_ip = net_number("max_per_ip", "0");
  std::string listen, bind;
  if (v4 && !v6) {
    bind = net_str("listen_address");
    listen = (bind.empty() ? "0.0.0.0" : bind) + ":" + port;
    m.moved.push_back("listen=YES" + std::string(bind.empty() ? "" : ", listen_address=" + bind) +
                      ", listen_port=" + port + ": ftp.socket listens on " + listen +
                      " (IPv4 only, as vsftpd did)");
  } else if (v6) {
    bind = net_str("listen_address6");
    listen = bind.empty() ? port : "[" + bind + "]:" + port;
    m.moved.push_back("listen_ipv6=YES" +
                      std::string(bind.empty() ? "" : ", listen_address6=" + bind) +
                      ", listen_port=" + port + ": ftp.socket listens on " +
                      (bind.empty() ? "port " + port + ", IPv6 and IPv4" : listen));
    if (v4) {
      m.decide.push_back("listen=YES and listen_ipv6=YES together: vsftpd refused to start so; "
                         "the socket follows listen_ipv6 (IPv6 and IPv4)");
    }
  } else {
    listen = port;
    m.moved.push_back("listen=NO (vsftpd run by a superserver): ftp.socket listens on port " +
                      port + ", IPv6 and IPv4");
  }
  // A vsftpd limit (0: none) becomes the socket's and xinetd's; without one, theirs apply.
  auto limit = [&](const char* option, const std::string& value, const char* socket_key,
                   const char* xinetd_key, const char* ours) {
    if (value != "0") {
      m.moved.push_back(std::string(option) + "=" + value + ": " + socket_key + "=" + value +
                        " in ftp.socket, " + xinetd_key + " = " + value + " in the xinetd entry");
    } else {
      m.changed.push_back(std::string(option) + " is not set (vsftpd: no limit): ftp.socket's " +
                          socket_key + "=" + ours + " and the xinetd entry's " + xinetd_key +
                          " = " + ours + " apply");
    }
  };
  limit("max_clients", max_clients, "MaxConnections", "instances", "64");
  limit("max_per_ip", max_per_ip, "MaxConnectionsPerSource", "per_source", "8");
  if (net_yes("tcp_wrappers")) {
    m.decide.push_back("tcp_wrappers=YES: /etc/hosts.allow and /etc/hosts.deny are not read; "
                       "write their rules as IPAddressAllow=/IPAddressDeny= in the ftp.socket "
                       "drop-in, or only_from/no_access in the xinetd entry");
  }
  if (net_yes("one_process_model")) {
    m.changed.push_back("one_process_model=YES is left out: keepftpd always separates "
                        "privileges");
  }

  m.socket_dropin = "# ftp.socket drop-in made by keepftpd --from-vsftpd from " +
                    SanitizeForLog(input_name) +
                    ".\n# Install as /etc/systemd/system/ftp.socket.d/override.conf, then run "
                    "systemctl daemon-reload.\n[Socket]\nListenStream=\nListenStream=" + listen +
                    "\n";
  if (max_clients != "0") m.socket_dropin += "MaxConnections=" + max_clients + "\n";
  if (max_per_ip != "0") m.socket_dropin += "MaxConnectionsPerSource=" + max_per_ip + "\n";

  std::string& x = m.xinetd_entry;
  x = "# xinetd entry made by keepftpd --from-vsftpd from " + SanitizeForLog(input_name) +
      ".\n# Install as /etc/xinetd.d/keepftpd (with ftp.socket and vsftpd disabled).\n\n"
      "service ftp\n{\n";
  if (port != "21") x += "\ttype            = UNLISTED\n\tport            = " + port + "\n";
  x += "\tsocket_type     = stream\n\tprotocol        = tcp\n\twait            = no\n"
       "\tuser            = root\n\tserver          = " + std::string(kInstalledBinary) +
       "\n\tserver_args     = --config " + kInstalledConfig + "\n";
  if (!bind.empty()) x += "\tbind            = " + bind + "\n";
  if (v6) x += "\tflags           = IPv6\n";
  x += "\tinstances       = " + (max_clients != "0" ? max_clients : std::string("64")) + "\n";
  x += "\tper_source      = " + (max_per_ip != "0" ? max_per_ip : std::string("8")) + "\n";
  x += "\tlog_on_success  += HOST PID DURATION\n\tlog_on_failure  += HOST\n"
       "\tdisable         = no\n}\n";
  return m;
}

bool IsVsftpdPath(std::string_view path, const VsftpdPackage& package) {
  if (path.empty() || path[0] != '/') return false;
  if (std::find(package.files.begin(), package.files.end(), path) != package.files.end()) {
    return true;
  }
  // Without the package here: what its Debian package installs that other configurations name
  // (its PAM service reads /etc/ftpusers).
  if (!package.installed && path == "/etc/ftpusers") return true;
  for (std::string_view component : Split(path, '/')) {
    if (component.find("vsftpd") != std::string_view::npos) return true;
  }
  return false;
}

std::vector<std::string> VsftpdDependencies(const Config& config, std::string_view pam_text,
                                            const VsftpdPackage& package) {
  std::vector<std::string> items;
  // The PAM service, and the files its rules read.
  if (config.local_enable) {
    const std::string service = SanitizeForLog(config.pam_service_name);
    const std::string file = "/etc/pam.d/" + service;
    std::string pam_file = file;  // where the rules that name files are, once independent
    if (IsVsftpdPath(file, package)) {
      pam_file = "/etc/pam.d/keepftpd";
      items.push_back("pam_service_name=" + service + ": " + file + " " + Whose(file, package) +
                      ", and local logins would then go to PAM's \"other\" service. Compare it "
                      "with the one keepftpd installed (diff " + file + " /etc/pam.d/keepftpd) "
                      "and keep the rules you want. Run: cp " + file + " /etc/pam.d/keepftpd; "
                      "then set pam_service_name=keepftpd");
    }
    for (std::string_view line : Split(pam_text, '\n')) {
      line = TrimSpaces(line);
      if (line.empty() || line[0] == '#' || line[0] == '@') continue;
      for (std::string_view word : Split(line, ' ')) {
        for (std::string_view token : Split(word, '\t')) {
          const std::size_t eq = token.find('=');
          const std::string_view key = eq == std::string_view::npos ? "" : token.substr(0, eq);
          std::string_view path = eq == std::string_view::npos ? token : token.substr(eq + 1);
          if (path.empty() || path[0] != '/' || path.find(".so") != std::string_view::npos) {
            continue;
          }
          // pam_userdb's db= names a Berkeley DB without its ".db".
          const std::string real = std::string(path) + (key == "db" ? ".db" : "");
          if (!IsVsftpdPath(path, package) && !IsVsftpdPath(real, package)) continue;
          const std::string shown = SanitizeForLog(path);
          const std::string to = KeepftpdPathFor(shown);
          items.push_back(
              shown + ", which " + file + " reads, " + Whose(SanitizeForLog(real), package) +
              (shown == "/etc/ftpusers"
                   ? " (and pam_listfile, with onerr=succeed, then lets every account it "
                     "listed log in)"
                   : "") +
              ". Run: " + CopyCommands(real, KeepftpdPathFor(real), false) + "; sed -i 's|" +
              shown + "|" + to + "|' " + pam_file);
        }
      }
    }
  }
  if (IsVsftpdPath(config.secure_chroot_dir, package)) {
    items.push_back("secure_chroot_dir=" + config.secure_chroot_dir + " " +
                    Whose(config.secure_chroot_dir, package) +
                    ". Remove the line: keepftpd's default, /usr/share/empty, is made by its "
                    "own tmpfiles.d entry (systemd-tmpfiles --create keepftpd.conf makes it now)");
  }
  // The files and directories options name, when they are used.
  enum Kind { kFile, kDirectory, kLog };
  struct Named {
    const char* option;
    std::string path;
    bool used;
    Kind kind;
  };
  const TlsKeyFile key = TlsKeyFileOf(config);
  const bool vsftpd_log = config.xferlog_enable && !config.syslog_enable &&
                          (!config.xferlog_std_format || config.dual_log_enable);
  const bool xferlog = config.xferlog_enable && (config.xferlog_std_format || config.dual_log_enable);
  const Named named[] = {
      {"userlist_file", config.userlist_file, config.local_enable && config.userlist_enable, kFile},
      {"chroot_list_file", config.chroot_list_file,
       config.local_enable && config.chroot_list_enable, kFile},
      {"banned_email_file", config.banned_email_file,
       config.anonymous_enable && config.deny_email_enable, kFile},
      {"email_password_file", config.email_password_file,
       config.anonymous_enable && config.secure_email_list_enable, kFile},
      {"banner_file", config.banner_file, true, kFile},
      {"rsa_cert_file", config.rsa_cert_file, config.ssl_enable, kFile},
      {key.option, key.path, config.ssl_enable && key.path != config.rsa_cert_file, kFile},
      {"ca_certs_file", config.ca_certs_file, config.ssl_enable, kFile},
      {"user_config_dir", config.user_config_dir, true, kDirectory},
      {"vsftpd_log_file", config.vsftpd_log_file, vsftpd_log, kLog},
      {"xferlog_file", config.xferlog_file, xferlog, kLog},
  };
  for (const Named& n : named) {
    if (!n.used || !IsVsftpdPath(n.path, package)) continue;
    const std::string path = SanitizeForLog(n.path);
    const std::string to = KeepftpdPathFor(path);
    std::string item = std::string(n.option) + "=" + path + " " + Whose(path, package) + ". ";
    if (n.kind == kLog) {
      const std::string parent = NewParent(path, to);
      item += "A log: set " + std::string(n.option) + "=" + to +
              " (keepftpd starts it; the old one stays to be read)" +
              (parent.empty() ? "" : "; run: mkdir -p " + parent);
      if (path == "/var/log/vsftpd.log" && IsVsftpdPath("/etc/logrotate.d/vsftpd", package)) {
        item += "; /etc/logrotate.d/vsftpd, which rotates it, goes with the package too. Run: "
                "sed 's|" + path + "|" + to + "|' /etc/logrotate.d/vsftpd > "
                "/etc/logrotate.d/keepftpd";
      }
    } else {
      // vsftpd's one PEM file of both, named twice: both names change.
      const bool both = n.option == std::string_view("rsa_cert_file") &&
                        config.rsa_private_key_file == config.rsa_cert_file;
      item += "Run: " + CopyCommands(path, to, n.kind == kDirectory) + "; then set " +
              n.option + "=" + to + (both ? " and rsa_private_key_file=" + to : "");
    }
    items.push_back(item);
  }
  return items;
}

std::string FormatMigrationReport(const Migration& m, std::string_view out_dir) {
  std::string r;
  auto section = [&](const std::string& title, const std::vector<std::string>& items) {
    r += title + " (" + std::to_string(items.size()) + ")" + (items.empty() ? "\n" : ":\n");
    for (const std::string& item : items) r += "  - " + item + "\n";
    r += "\n";
  };
  std::string same;
  for (const std::string& s : m.same) same += (same.empty() ? "" : ", ") + s;
  r += "Same in keepftpd (" + std::to_string(m.same.size()) + ")" +
       (same.empty() ? "\n\n" : ":\n  " + same + "\n\n");
  section("Changed meaning or default", m.changed);
  section("Moved to the socket unit and the xinetd entry", m.moved);
  section("Needs your decision", m.decide);
  section("Still taken from vsftpd, to change before its package goes", m.from_vsftpd);
  const std::string dir(out_dir);
  r += "Check the result:\n  keepftpd --check-config --config " + dir + "/keepftpd.conf\n";
  r += "Install with systemd:\n  cp " + dir + "/keepftpd.conf " + kInstalledConfig + "\n"
       "  mkdir -p /etc/systemd/system/ftp.socket.d\n  cp " + dir +
       "/ftp.socket.d/override.conf /etc/systemd/system/ftp.socket.d/\n"
       "  systemctl disable --now vsftpd; systemctl daemon-reload; "
       "systemctl enable --now ftp.socket\n";
  r += "Or with xinetd:\n  cp " + dir + "/keepftpd.conf " + kInstalledConfig + "; cp " + dir +
       "/xinetd.d/keepftpd /etc/xinetd.d/keepftpd\n";
  return r;
}

}  // namespace keepftpd
