// Tests for src/monitor/auth.cc, the parts without PAM: where PlaceLocalUser puts a local user's
// session jail under each rule its header lists, and ShellIsListed against this machine's
// /etc/shells.
#include "auth.h"

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace keepftpd {
namespace {

// A Config from config file text, which must parse without errors.
Config Parse(std::string_view text) {
  std::vector<ConfigError> errors;
  Config config = ParseConfig(text, "test.conf", &errors);
  CHECK_MESSAGE(errors.empty(), text);
  return config;
}

// "chrooted root start", so that one check compares a whole place and a failure prints it.
std::string Place(const Config& config, const std::vector<std::string>& chroot_list,
                  const std::string& user, const std::string& home) {
  JailPlace p = PlaceLocalUser(config, chroot_list, user, home);
  return std::string(p.chrooted ? "chrooted " : "not-chrooted ") + p.root + " " + p.start;
}

const std::vector<std::string> kNoList;

// ---- PlaceLocalUser ----

TEST_CASE("by default a local user is not chrooted and starts in the home directory") {
  const Config config;
  CHECK(Place(config, kNoList, "alice", "/home/alice") == "not-chrooted / /home/alice");
  CHECK(Place(config, kNoList, "bob", "/") == "not-chrooted / /");
}

TEST_CASE("local_root replaces the home directory, with user_sub_token replaced by the name") {
  CHECK(Place(Parse("local_root=/srv/ftp\n"), kNoList, "alice", "/home/alice") ==
        "not-chrooted / /srv/ftp");
  const Config config = Parse("local_root=/srv/$USER/files/$USER\nuser_sub_token=$USER\n");
  CHECK(Place(config, kNoList, "alice", "/home/alice") ==
        "not-chrooted / /srv/alice/files/alice");
  CHECK(Place(config, kNoList, "bob", "/home/bob") == "not-chrooted / /srv/bob/files/bob");
  // A name that contains the token is put in once, not expanded again.
  CHECK(Place(config, kNoList, "x$USERy", "/home/x") ==
        "not-chrooted / /srv/x$USERy/files/x$USERy");
}

TEST_CASE("user_sub_token does nothing without local_root, or when local_root lacks it") {
  CHECK(Place(Parse("user_sub_token=$USER\n"), kNoList, "alice", "/home/$USER") ==
        "not-chrooted / /home/$USER");
  CHECK(Place(Parse("local_root=/srv/ftp\nuser_sub_token=$USER\n"), kNoList, "alice",
              "/home/alice") == "not-chrooted / /srv/ftp");
  // Without user_sub_token, local_root is taken as written.
  CHECK(Place(Parse("local_root=/srv/$USER\n"), kNoList, "alice", "/home/alice") ==
        "not-chrooted / /srv/$USER");
}

TEST_CASE("chroot_local_user chroots into the directory and starts at its top") {
  CHECK(Place(Parse("chroot_local_user=YES\n"), kNoList, "alice", "/home/alice") ==
        "chrooted /home/alice /");
  CHECK(Place(Parse("chroot_local_user=YES\nlocal_root=/srv/$USER\nuser_sub_token=$USER\n"),
              kNoList, "alice", "/home/alice") == "chrooted /srv/alice /");
}

TEST_CASE("chroot_list_enable makes the listed users the exception to chroot_local_user") {
  const std::vector<std::string> list = {"alice", " carol "};
  // chroot_local_user=NO: only the listed users are chrooted.
  const Config only_listed = Parse("chroot_list_enable=YES\n");
  CHECK(Place(only_listed, list, "alice", "/home/alice") == "chrooted /home/alice /");
  CHECK(Place(only_listed, list, "carol", "/home/carol") == "chrooted /home/carol /");
  CHECK(Place(only_listed, list, "bob", "/home/bob") == "not-chrooted / /home/bob");
  // chroot_local_user=YES: everyone but the listed users is chrooted.
  const Config all_but_listed = Parse("chroot_local_user=YES\nchroot_list_enable=YES\n");
  CHECK(Place(all_but_listed, list, "alice", "/home/alice") == "not-chrooted / /home/alice");
  CHECK(Place(all_but_listed, list, "bob", "/home/bob") == "chrooted /home/bob /");
  // Names match exactly.
  CHECK(Place(all_but_listed, list, "Alice", "/home/Alice") == "chrooted /home/Alice /");
}

TEST_CASE("without chroot_list_enable the chroot list is ignored") {
  const std::vector<std::string> list = {"alice"};
  CHECK(Place(Config(), list, "alice", "/home/alice") == "not-chrooted / /home/alice");
  CHECK(Place(Parse("chroot_local_user=YES\n"), list, "alice", "/home/alice") ==
        "chrooted /home/alice /");
}

TEST_CASE("passwd_chroot_enable splits a chrooted directory at its first /./") {
  const Config config = Parse("chroot_local_user=YES\npasswd_chroot_enable=YES\n");
  CHECK(Place(config, kNoList, "alice", "/home/alice/./pub") == "chrooted /home/alice /pub");
  CHECK(Place(config, kNoList, "alice", "/home/alice/./pub/in") ==
        "chrooted /home/alice /pub/in");
  CHECK(Place(config, kNoList, "alice", "/home/alice/./") == "chrooted /home/alice /");
  CHECK(Place(config, kNoList, "alice", "/./srv/ftp") == "chrooted / /srv/ftp");
  CHECK(Place(config, kNoList, "alice", "/a/./b/./c") == "chrooted /a /b/./c");
  // No /./: the whole directory is the root.
  CHECK(Place(config, kNoList, "alice", "/home/alice") == "chrooted /home/alice /");
  CHECK(Place(config, kNoList, "alice", "/home/alice/.") == "chrooted /home/alice/. /");
  // In local_root too, after the user name is put in.
  CHECK(Place(Parse("chroot_local_user=YES\npasswd_chroot_enable=YES\n"
                    "local_root=/srv/$USER/./in\nuser_sub_token=$USER\n"),
              kNoList, "alice", "/home/alice") == "chrooted /srv/alice /in");
  // A user chrooted by the list is split the same way.
  const Config listed = Parse("chroot_list_enable=YES\npasswd_chroot_enable=YES\n");
  CHECK(Place(listed, {"alice"}, "alice", "/home/alice/./pub") == "chrooted /home/alice /pub");
}

TEST_CASE("without passwd_chroot_enable a /./ does not split the chroot") {
  CHECK(Place(Parse("chroot_local_user=YES\n"), kNoList, "alice", "/home/alice/./pub") ==
        "chrooted /home/alice/./pub /");
}

TEST_CASE("a user who is not chrooted starts in the directory, with a /./ taken out") {
  for (std::string_view text : {"", "passwd_chroot_enable=YES\n"}) {
    CAPTURE(text);
    const Config config = Parse(text);
    CHECK(Place(config, kNoList, "alice", "/home/alice/./pub") == "not-chrooted / /home/alice/pub");
    CHECK(Place(config, kNoList, "alice", "/home/alice/./") == "not-chrooted / /home/alice/");
    CHECK(Place(config, kNoList, "alice", "/home/alice") == "not-chrooted / /home/alice");
  }
}


TEST_CASE("chroot_start_dir, with user_sub_token replaced, is where a chrooted user starts") {
  const Config config =
      Parse("chroot_local_user=YES\nchroot_start_dir=$USER/in\nuser_sub_token=$USER\n");
  CHECK(Place(config, kNoList, "alice", "/home/alice") == "chrooted /home/alice /alice/in");
  CHECK(Place(Parse("chroot_local_user=YES\npasswd_chroot_enable=YES\nchroot_start_dir=up\n"),
              kNoList, "alice", "/srv/./alice") == "chrooted /srv /alice/up");
  // A user who is not chrooted starts where the directory is, as before.
  CHECK(Place(Parse("chroot_start_dir=up\n"), kNoList, "alice", "/home/alice") ==
        "not-chrooted / /home/alice");
}
// ---- ShellIsListed ----

TEST_CASE("ShellIsListed accepts /bin/sh and refuses shells that are not listed") {
  CHECK(ShellIsListed("/bin/sh"));
  CHECK_FALSE(ShellIsListed("/nonexistent/shell"));
  CHECK_FALSE(ShellIsListed(""));
  CHECK_FALSE(ShellIsListed("/bin/sh "));
  CHECK_FALSE(ShellIsListed("/bin"));
  CHECK_FALSE(ShellIsListed("sh"));
  CHECK_FALSE(ShellIsListed("/bin/sh/"));
  // Each call reads the list from its start.
  CHECK(ShellIsListed("/bin/sh"));
}

TEST_CASE("ShellIsListed accepts every shell /etc/shells lists") {
  std::ifstream shells("/etc/shells");
  int count = 0;
  for (std::string line; std::getline(shells, line);) {
    // As getusershell(3) reads it: a path from a '/' at the start to a space or '#'.
    if (line.empty() || line[0] != '/') continue;
    line = line.substr(0, line.find_first_of(" \t#"));
    CAPTURE(line);
    CHECK(ShellIsListed(line));
    CHECK_FALSE(ShellIsListed(line + "x"));
    ++count;
  }
  CHECK(count > 0);
}

}  // namespace
}  // namespace keepftpd
