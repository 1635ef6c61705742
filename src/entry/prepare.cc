// PrepareSession: the checks a connection runs before its monitor starts, shared with
// --check-config. Entry process only.
#include "prepare.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "log.h"
#include "login_rules.h"
#include "strutil.h"
#include "unique_fd.h"

namespace keepftpd {

namespace {

constexpr std::size_t kMaxBannerFile = 8192;

class Checks {
 public:
  Checks(const Config& config, Preparation how, SessionInfo* session)
      : config_(config), how_(how), session_(session) {}

  std::vector<PrepareError> Run();

 private:
  void Add(const std::string& option, const std::string& message) {
    errors_.push_back({option, message});
  }
  bool Account(const std::string& name, const char* option, keepftpd::Account* out);
  void Launcher(keepftpd::Account* out);
  void SecureChroot();
  void Directory(const std::string& path, const char* option, const std::string& fix);
  void List(bool wanted, const std::string& path, const char* option,
            std::vector<std::string>* out);
  void Pam();
  void LoginStateDir();
  void TlsFiles();
  int TransferLog(const std::string& path, const char* option);
  void TransferLogs();
  void Banner();
  void UserConfigDir();

  const Config& config_;
  const Preparation how_;
  SessionInfo* session_;
  std::vector<PrepareError> errors_;
};

bool Checks::Account(const std::string& name, const char* option, keepftpd::Account* out) {
  errno = 0;
  passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) {
    Add(option, std::string(option) + "=" + name +
                    ": no such user (create it, e.g. useradd --system --no-create-home "
                    "--shell /usr/sbin/nologin " + name + ", or name an existing account)");
    return false;
  }
  if (pw->pw_uid == 0) {
    Add(option, std::string(option) + "=" + name + ": must not be root (uid 0)");
    return false;
  }
  out->name = name;
  out->uid = pw->pw_uid;
  out->gid = pw->pw_gid;
  out->home = pw->pw_dir != nullptr ? pw->pw_dir : "";
  return true;
}

// Rootless: the user who started keepftpd, who every process stays.
void Checks::Launcher(keepftpd::Account* out) {
  passwd* pw = getpwuid(getuid());
  out->uid = getuid();
  out->gid = getgid();
  if (pw == nullptr) {
    Add("run_as_launching_user", "run_as_launching_user=YES: uid " + std::to_string(getuid()) +
                                     " is not in the passwd database");
    return;
  }
  out->name = pw->pw_name;
  out->home = pw->pw_dir != nullptr ? pw->pw_dir : "";
}

// secure_chroot_dir must be an empty directory owned by root (rootless: or by the launching
// user) and writable by nobody else.
void Checks::SecureChroot() {
  const std::string& dir = config_.secure_chroot_dir;
  const bool rootless = session_->rootless;
  const std::string prefix = "secure_chroot_dir=" + dir + ": ";
  std::string fix = rootless ? " (create it with: mkdir -p " + dir + " && chmod 555 " + dir + ")"
                             : " (create it with: mkdir -p " + dir + " && chown root:root " + dir +
                                   " && chmod 755 " + dir + ")";
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return Add("secure_chroot_dir", prefix + std::strerror(errno) + fix);
  const bool owner_ok = st.st_uid == 0 || (rootless && st.st_uid == getuid());
  if (!S_ISDIR(st.st_mode) || !owner_ok || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Add("secure_chroot_dir",
               prefix +
                   (rootless ? "must be a directory owned by root or by you and not writable by "
                               "group or others"
                             : "must be a directory owned by root and not writable by group or "
                               "others") +
                   fix);
  }
  UniqueDir d(opendir(dir.c_str()));
  if (d == nullptr) return Add("secure_chroot_dir", prefix + std::strerror(errno) + fix);
  while (dirent* e = readdir(d.get())) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      return Add("secure_chroot_dir", prefix + "must be empty, but contains " +
                                          SanitizeForLog(e->d_name) +
                                          " (empty it, or set secure_chroot_dir to an empty "
                                          "directory)");
    }
  }
}

// A directory a jail will chroot into or work in: it must exist.
void Checks::Directory(const std::string& path, const char* option, const std::string& fix) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return Add(option, std::string(option) + "=" + path + ": " + std::strerror(errno) + fix);
  }
  if (!S_ISDIR(st.st_mode)) {
    Add(option, std::string(option) + "=" + path + ": not a directory" + fix);
  }
}

// The lists are read now, like the banner: the pre-login jail checks the user list at USER
// (and the monitor again at login); neither can open files later.
void Checks::List(bool wanted, const std::string& path, const char* option,
                  std::vector<std::string>* out) {
  if (!wanted) return;
  std::vector<std::string> ignored;
  Status s = ReadNameList(path, how_ == Preparation::kServe ? out : &ignored);
  if (!s.ok()) {
    std::string why = s.message();
    if (why.rfind(path + ": ", 0) == 0) why.erase(0, path.size() + 2);
    Add(option, std::string(option) + "=" + path + ": " + why +
                    " (create it, one name per line, or turn its list off)");
  }
}

// Local and virtual logins go through PAM: a service that does not exist would fall back to
// PAM's "other" stack, which may let anyone in or no one.
void Checks::Pam() {
  if (!config_.local_enable) return;
  if (!PamServiceExists(config_.pam_service_name)) {
    Add("pam_service_name", "pam_service_name=" + config_.pam_service_name +
                                ": no such PAM service (/etc/pam.d/" + config_.pam_service_name +
                                " does not exist; install keepftpd's pam.d/keepftpd there, or "
                                "name an existing service)");
  }
}

// Failed logins are remembered here; the monitor creates the directory itself (mode 0700), so
// its parent must exist.
void Checks::LoginStateDir() {
  const std::string& dir = config_.login_state_dir;
  if (dir.empty()) return;
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      Add("login_state_dir", "login_state_dir=" + dir + ": not a directory");
    }
    return;
  }
  const std::string parent = dir.substr(0, std::max<std::size_t>(dir.rfind('/'), 1));
  if (stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    Add("login_state_dir", "login_state_dir=" + dir + ": its parent " + parent +
                               " does not exist (create it, or choose another directory)");
  } else if (access(parent.c_str(), W_OK) != 0) {
    Add("login_state_dir", "login_state_dir=" + dir + ": it does not exist and cannot be created in " +
                               parent + " (" + std::strerror(errno) + ")");
  }
}

// A missing or unreadable certificate or key refuses the connection at once, as vsftpd refuses
// to start. (Parsing them waits for AUTH TLS: most connections never ask; --check-config loads
// them too.) The default certificate is Debian's and Ubuntu's snakeoil pair, which the ssl-cert
// package makes; elsewhere (Fedora, Arch) it does not exist, and the fix says what to name.
void Checks::TlsFiles() {
  // implicit_ssl starts TLS at once, with or without ssl_enable.
  if (!config_.ssl_enable && !config_.implicit_ssl) return;
  const TlsKeyFile key = TlsKeyFileOf(config_);
  const bool snakeoil = config_.rsa_cert_file == kSnakeoilCert;
  const std::string fix =
      snakeoil ? std::string(" (the default certificate, the self-signed one of Debian's and "
                             "Ubuntu's ssl-cert package: make it with make-ssl-cert "
                             "generate-default-snakeoil, or set rsa_cert_file and "
                             "rsa_private_key_file to your certificate and key, such as Let's "
                             "Encrypt's fullchain.pem and privkey.pem; or set ssl_enable=NO)")
               : std::string(" (name the certificate and key files, such as Let's Encrypt's "
                             "fullchain.pem and privkey.pem, or set ssl_enable=NO)");
  auto readable = [&](const char* option, const std::string& file, const std::string& what) {
    UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) {
      Add(option, std::string(option) + "=" + file + what + ": " + std::strerror(errno) + fix);
    }
  };
  readable("rsa_cert_file", config_.rsa_cert_file, "");
  if (key.path != config_.rsa_cert_file) {
    readable(key.option, key.path,
             config_.rsa_private_key_file.empty()
                 ? " (the key of rsa_cert_file=" + config_.rsa_cert_file + ")"
                 : "");
  }
}

// Serving: opened now (root), with O_APPEND: no process can open them later. Checking: an
// existing file must open for appending, a new one's directory must exist.
int Checks::TransferLog(const std::string& path, const char* option) {
  const std::string prefix = std::string(option) + "=" + path + ": ";
  if (how_ == Preparation::kServe) {
    int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) Add(option, prefix + std::strerror(errno));
    return fd;
  }
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.valid()) return -1;
  if (errno != ENOENT) {
    Add(option, prefix + std::strerror(errno));
    return -1;
  }
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    Add(option, prefix + "its directory " + dir + " does not exist (create it)");
  } else if (access(dir.c_str(), W_OK) != 0) {
    Add(option, prefix + "cannot be created in " + dir + " (" + std::strerror(errno) + ")");
  }
  return -1;
}

// As vsftpd's vsf_log_init: the files with xferlog_enable or dual_log_enable; vsftpd_log_file
// unless the xferlog alone is wanted (xferlog_std_format without dual_log_enable), and never with
// syslog_enable, whose lines go to syslog instead, with or without the files.
void Checks::TransferLogs() {
  const bool files = config_.xferlog_enable || config_.dual_log_enable;
  const bool std_format = config_.xferlog_std_format;
  const bool vsftpd_format = !std_format || config_.dual_log_enable;
  int vsftpd_fd = files && vsftpd_format && !config_.syslog_enable
                      ? TransferLog(config_.vsftpd_log_file, "vsftpd_log_file") : -1;
  int xferlog_fd = files && (std_format || config_.dual_log_enable)
                       ? TransferLog(config_.xferlog_file, "xferlog_file") : -1;
  if (how_ == Preparation::kServe) UseTransferLogs(vsftpd_fd, xferlog_fd, config_.syslog_enable);
}

void Checks::Banner() {
  if (config_.banner_file.empty()) return;
  UniqueFd fd(open(config_.banner_file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    return Add("banner_file", "banner_file=" + config_.banner_file + ": " + std::strerror(errno));
  }
  if (how_ != Preparation::kServe) return;
  std::string text(kMaxBannerFile, '\0');
  ssize_t n = read(fd.get(), text.data(), text.size());
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  session_->banner_text = text;
}

// --check-config only: every user's file must parse on top of this configuration (a login with
// a broken one is refused).
void Checks::UserConfigDir() {
  if (how_ != Preparation::kCheck || config_.user_config_dir.empty()) return;
  const std::string& dir = config_.user_config_dir;
  UniqueDir d(opendir(dir.c_str()));
  if (d == nullptr) {
    return Add("user_config_dir", "user_config_dir=" + dir + ": " + std::strerror(errno));
  }
  while (dirent* e = readdir(d.get())) {
    if (e->d_name[0] == '.') continue;
    std::vector<ConfigError> errors;
    LoadConfigFile(dir + "/" + e->d_name, &errors, config_);
    for (const ConfigError& error : errors) Add("user_config_dir", error.ToString());
  }
}

std::vector<PrepareError> Checks::Run() {
  SessionInfo& s = *session_;
  if (s.rootless) {
    // Every process is the launching user; the jails' chroots come from user namespaces.
    Launcher(&s.nopriv);
    s.anonymous = s.nopriv;
    s.anonymous.name = config_.ftp_username;
    if (config_.anonymous_enable) {
      keepftpd::Account ftp;
      if (!config_.anon_root.empty()) {
        s.anon_root = config_.anon_root;
      } else if (Account(config_.ftp_username, "ftp_username", &ftp)) {
        s.anon_root = ftp.home;
      }
    }
  } else {
    Account(config_.nopriv_user, "nopriv_user", &s.nopriv);
    if (config_.anonymous_enable && Account(config_.ftp_username, "ftp_username", &s.anonymous)) {
      s.anon_root = config_.anon_root.empty() ? s.anonymous.home : config_.anon_root;
    }
  }
  if (config_.anonymous_enable && !s.anon_root.empty()) {
    Directory(s.anon_root, config_.anon_root.empty() ? "ftp_username" : "anon_root",
              config_.anon_root.empty()
                  ? " (the home directory of ftp_username=" + config_.ftp_username +
                        ", served to anonymous clients: create it, or set anon_root)"
                  : " (create it: it is served to anonymous clients)");
  }
  if (config_.local_enable && config_.guest_enable && !s.rootless) {
    keepftpd::Account guest;
    Account(config_.guest_username, "guest_username", &guest);
  }
  List(config_.local_enable && config_.userlist_enable, config_.userlist_file, "userlist_file",
       &s.user_list);
  List(config_.anonymous_enable && config_.deny_email_enable, config_.banned_email_file,
       "banned_email_file", &s.banned_emails);
  List(config_.anonymous_enable && config_.secure_email_list_enable, config_.email_password_file,
       "email_password_file", &s.email_passwords);
  List(config_.local_enable && config_.chroot_list_enable, config_.chroot_list_file,
       "chroot_list_file", &s.chroot_list);
  if (config_.anonymous_enable && config_.chown_uploads) {
    passwd* pw = getpwnam(config_.chown_username.c_str());
    if (pw == nullptr) {
      Add("chown_username", "chown_username=" + config_.chown_username + ": no such user");
    } else {
      s.chown_owner.name = config_.chown_username;
      s.chown_owner.uid = pw->pw_uid;
      s.chown_owner.gid = pw->pw_gid;
    }
  }
  SecureChroot();
  Pam();
  LoginStateDir();
  TlsFiles();
  TransferLogs();
  Banner();
  UserConfigDir();
  return std::move(errors_);
}

}  // namespace

bool PamServiceExists(std::string_view name) {
  for (const char* dir : {"/etc/pam.d/", "/usr/lib/pam.d/"}) {
    if (access((dir + std::string(name)).c_str(), F_OK) == 0) return true;
  }
  return false;
}

std::vector<PrepareError> PrepareSession(const Config& config, Preparation how,
                                         SessionInfo* session) {
  return Checks(config, how, session).Run();
}

}  // namespace keepftpd
