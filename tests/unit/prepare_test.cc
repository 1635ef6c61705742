// Tests for src/entry/prepare.cc: PrepareSession's checks, as --check-config runs them
// (Preparation::kCheck, creating nothing) and as a connection does (kServe, filling the session),
// against a temporary tree: each thing a connection needs that is missing or wrong is one error
// naming its option; a tree with everything in place gives none. Run as root (the checks are
// root's: owners, accounts).
#include "prepare.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "log.h"
#include "test_support.h"

namespace keepftpd {
namespace {

// /tmp/keepftpd-prepare-test-XXXXXX with empty/ (root's, 0755) and ftp/, removed afterwards.
class Tree {
 public:
  Tree() {
    char path[] = "/tmp/keepftpd-prepare-test-XXXXXX";
    CHECK_OR_RETURN(mkdtemp(path) != nullptr);
    base_ = path;
    chmod(base_.c_str(), 0755);
    mkdir(At("empty").c_str(), 0755);
    mkdir(At("ftp").c_str(), 0755);
  }
  ~Tree() {
    std::error_code ignored;
    if (!base_.empty()) std::filesystem::remove_all(base_, ignored);
  }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;
  std::string At(const std::string& name) const { return base_ + "/" + name; }

  // A configuration that serves here: anonymous, nobody for the pre-login jail.
  Config Serving() const {
    Config c;
    c.anonymous_enable = true;
    c.anon_root = At("ftp");
    c.secure_chroot_dir = At("empty");
    c.nopriv_user = "nobody";
    c.login_state_dir = At("state");
    return c;
  }

 private:
  std::string base_;
};

std::vector<PrepareError> Check(const Config& config) {
  SessionInfo session;
  session.rootless = config.run_as_launching_user;
  return PrepareSession(config, Preparation::kCheck, &session);
}

// The one error, naming option, whose message holds word.
void CheckOneError(const std::vector<PrepareError>& errors, const std::string& option,
                   const std::string& word) {
  CHECK_OR_RETURN(errors.size() == 1);
  CHECK(errors[0].option == option);
  CHECK_MESSAGE(errors[0].message.find(word) != std::string::npos, errors[0].message);
  CHECK(errors[0].message.rfind(option + "=", 0) == 0);
}

TEST_CASE("a tree with everything a connection needs passes, and nothing is created") {
  if (geteuid() != 0) return;  // the checks are root's
  Tree t;
  CHECK(Check(t.Serving()).empty());
  CHECK(!std::filesystem::exists(t.At("state")));  // made by the monitor when it needs it
}

TEST_CASE("each missing or wrong thing is one error naming its option") {
  if (geteuid() != 0) return;
  Tree t;
  SUBCASE("secure_chroot_dir missing") {
    Config c = t.Serving();
    c.secure_chroot_dir = t.At("missing");
    CheckOneError(Check(c), "secure_chroot_dir", "mkdir -p");
  }
  SUBCASE("secure_chroot_dir not empty") {
    std::ofstream(t.At("empty/leftover")) << "x";
    CheckOneError(Check(t.Serving()), "secure_chroot_dir", "must be empty, but contains leftover");
  }
  SUBCASE("secure_chroot_dir writable by others") {
    chmod(t.At("empty").c_str(), 0777);
    CheckOneError(Check(t.Serving()), "secure_chroot_dir", "not writable by group or others");
  }
  SUBCASE("anon_root missing") {
    Config c = t.Serving();
    c.anon_root = t.At("no-ftp");
    CheckOneError(Check(c), "anon_root", "No such file or directory");
  }
  SUBCASE("nopriv_user unknown") {
    Config c = t.Serving();
    c.nopriv_user = "kftp-no-such-user";
    CheckOneError(Check(c), "nopriv_user", "no such user");
  }
  SUBCASE("nopriv_user root") {
    Config c = t.Serving();
    c.nopriv_user = "root";
    CheckOneError(Check(c), "nopriv_user", "must not be root");
  }
  SUBCASE("a list that is missing") {
    Config c = t.Serving();
    c.deny_email_enable = true;
    c.banned_email_file = t.At("no-list");
    CheckOneError(Check(c), "banned_email_file", "No such file or directory");
  }
  SUBCASE("a PAM service that does not exist") {
    Config c = t.Serving();
    c.local_enable = true;
    c.pam_service_name = "kftp-no-such-service";
    CheckOneError(Check(c), "pam_service_name", "no such PAM service");
  }
  SUBCASE("login_state_dir whose parent is missing") {
    Config c = t.Serving();
    c.login_state_dir = t.At("no-parent/state");
    CheckOneError(Check(c), "login_state_dir", "does not exist");
  }
  SUBCASE("a transfer log in a directory that is missing") {
    Config c = t.Serving();
    c.xferlog_enable = true;
    c.vsftpd_log_file = t.At("no-dir/vsftpd.log");
    CheckOneError(Check(c), "vsftpd_log_file", "does not exist");
    CHECK(!std::filesystem::exists(t.At("no-dir")));
  }
  SUBCASE("a certificate that is missing") {
    Config c = t.Serving();
    c.ssl_enable = true;
    c.rsa_cert_file = t.At("no-cert.pem");
    CheckOneError(Check(c), "rsa_cert_file", "No such file or directory");
  }
  SUBCASE("a broken user_config_dir file") {
    Config c = t.Serving();
    mkdir(t.At("users").c_str(), 0755);
    std::ofstream(t.At("users/alice")) << "bogus_option=1\n";
    c.user_config_dir = t.At("users");
    const std::vector<PrepareError> errors = Check(c);
    CHECK_OR_RETURN(errors.size() == 1);
    CHECK(errors[0].option == "user_config_dir");
    CHECK(errors[0].message.find(t.At("users/alice") + ":1:") != std::string::npos);
  }
}

TEST_CASE("checking creates no transfer log; serving opens it and fills the session") {
  if (geteuid() != 0) return;
  Tree t;
  Config c = t.Serving();
  c.xferlog_enable = true;
  c.vsftpd_log_file = t.At("vsftpd.log");
  c.banner_file = t.At("banner");
  std::ofstream(t.At("banner")) << "Hello.\n";
  CHECK(Check(c).empty());
  CHECK(!std::filesystem::exists(t.At("vsftpd.log")));
  SessionInfo session;
  CHECK(PrepareSession(c, Preparation::kServe, &session).empty());
  CHECK(std::filesystem::exists(t.At("vsftpd.log")));
  CHECK(session.banner_text == "Hello.\n");
  CHECK(session.anon_root == t.At("ftp"));
  CHECK(session.nopriv.name == "nobody");
  UseTransferLogs(-1, -1);  // this process keeps no descriptor to the log
}

}  // namespace
}  // namespace keepftpd
