// Tests for src/common/login_rules.cc: which names are anonymous, matching and reading the user
// lists (comments, blank lines, CRLF, spaces, the 1 MiB limit, errors naming the file), and what
// userlist_enable and userlist_deny make of a list.
#include "login_rules.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "test_support.h"
#include "unique_fd.h"

namespace keepftpd {
namespace {

using test::ReadAll;
using test::TempFile;

// A Config from config file text, which must parse without errors.
Config Parse(std::string_view text) {
  std::vector<ConfigError> errors;
  Config config = ParseConfig(text, "test.conf", &errors);
  CHECK_MESSAGE(errors.empty(), text);
  return config;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// The names joined with '|', so that a failure prints them.
std::string Joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += n + "|";
  return out;
}

// ---- anonymous names ----

TEST_CASE("anonymous and ftp in any case are the anonymous names") {
  for (std::string_view name : {"anonymous", "ANONYMOUS", "Anonymous", "aNoNyMoUs", "ftp", "FTP",
                                "Ftp"}) {
    CAPTURE(name);
    CHECK(IsAnonymousName(name));
  }
}

TEST_CASE("no other name is anonymous, not even one that differs by a space") {
  using std::string_view_literals::operator""sv;
  for (std::string_view name : {""sv, "anon"sv, "anonymou"sv, "anonymous1"sv, "ftp "sv, " ftp"sv,
                                "ftpuser"sv, "ft"sv, "root"sv, "ftp\0"sv}) {
    CAPTURE(name);
    CHECK_FALSE(IsAnonymousName(name));
  }
}

// ---- InNameList ----

TEST_CASE("InNameList matches whole names exactly, with spaces around entries ignored") {
  const std::vector<std::string> list = {"alice", " bob ", "\tcarol", "Dave"};
  CHECK(InNameList(list, "alice"));
  CHECK(InNameList(list, "bob"));
  CHECK(InNameList(list, "carol"));
  CHECK(InNameList(list, "Dave"));
  // Case matters: user names are case-sensitive.
  CHECK_FALSE(InNameList(list, "Alice"));
  CHECK_FALSE(InNameList(list, "dave"));
  // Whole names only.
  CHECK_FALSE(InNameList(list, "ali"));
  CHECK_FALSE(InNameList(list, "alicea"));
  CHECK_FALSE(InNameList(list, "bo"));
  CHECK_FALSE(InNameList(list, "erin"));
  CHECK_FALSE(InNameList({}, "alice"));
}

// ---- ReadNameList ----

TEST_CASE("ReadNameList skips comments and blank lines and strips CR and spaces") {
  TempFile file(
      "# users who may not log in\n"
      "alice\n"
      "\n"
      "  bob  \r\n"
      "carol\r\n"
      "\t dave\t\n"
      "   \r\n"
      "  # an indented comment\n"
      "#erin\n"
      "frank");  // no line end at the end of the file
  std::vector<std::string> names = {"stale"};
  Status s = ReadNameList(file.path(), &names);
  CHECK(s.ok());
  CHECK(Joined(names) == "alice|bob|carol|dave|frank|");
}

TEST_CASE("ReadNameList of an empty file is an empty list") {
  TempFile file("");
  std::vector<std::string> names = {"stale"};
  CHECK(ReadNameList(file.path(), &names).ok());
  CHECK(names.empty());
  TempFile comments("# nobody\n\n# yet\n");
  names = {"stale"};
  CHECK(ReadNameList(comments.path(), &names).ok());
  CHECK(names.empty());
}

TEST_CASE("ReadNameList reads a file of exactly 1 MiB and refuses one byte more") {
  // Lines of "userNNNNNN\n" (11 bytes), padded to the size with a comment.
  std::string text;
  int count = 0;
  while (text.size() + 11 <= (1u << 20) - 2) {
    std::string n = std::to_string(count++);
    text += "user" + std::string(6 - n.size(), '0') + n + "\n";
  }
  text += "#" + std::string((1u << 20) - text.size() - 1, 'x');
  CHECK(text.size() == (1u << 20));
  {
    TempFile file(text);
    std::vector<std::string> names;
    Status s = ReadNameList(file.path(), &names);
    CHECK_MESSAGE(s.ok(), s.message());
    CHECK(names.size() == static_cast<std::size_t>(count));
    CHECK(names.front() == "user000000");
  }
  text += "x";
  TempFile file(text);
  std::vector<std::string> names = {"kept"};
  Status s = ReadNameList(file.path(), &names);
  CHECK_FALSE(s.ok());
  CHECK(s.message() == file.path() + ": larger than 1 MiB");
  CHECK(names == std::vector<std::string>{"kept"});  // a failure leaves the list as it was
}

TEST_CASE("ReadNameList of a missing file or a directory fails with a message naming it") {
  const std::string missing = "/nonexistent/keepftpd-user-list";
  std::vector<std::string> names = {"kept"};
  Status s = ReadNameList(missing, &names);
  CHECK_FALSE(s.ok());
  CHECK(s.errno_value() == ENOENT);
  CHECK(Contains(s.message(), missing));
  CHECK(names == std::vector<std::string>{"kept"});

  s = ReadNameList("/tmp", &names);
  CHECK_FALSE(s.ok());
  CHECK(s.errno_value() == EISDIR);
  CHECK(Contains(s.message(), "/tmp"));
  CHECK(names == std::vector<std::string>{"kept"});
}

// ---- the FTPS rules ----

TEST_CASE("TlsLoginRefusal: force_local_logins_ssl needs TLS for local logins") {
  const Config config = Parse("ssl_enable=YES\nforce_local_logins_ssl=YES\n");
  CHECK(std::string(TlsLoginRefusal(config, false, false)) ==
        "Non-anonymous sessions must use encryption.");
  CHECK(TlsLoginRefusal(config, false, true) == nullptr);
  CHECK(TlsLoginRefusal(config, true, false) == nullptr);  // anonymous: allow_anon_ssl=NO
  CHECK(TlsLoginRefusal(Parse("force_local_logins_ssl=YES\n"), false, false) == nullptr);
  CHECK(TlsLoginRefusal(Parse("ssl_enable=YES\nforce_local_logins_ssl=NO\n"), false, false) ==
        nullptr);
}

TEST_CASE("TlsLoginRefusal: anonymous logins over TLS need allow_anon_ssl, and without it "
          "force_anon_logins_ssl") {
  const Config plain = Parse("ssl_enable=YES\nforce_local_logins_ssl=NO\n");
  CHECK(std::string(TlsLoginRefusal(plain, true, true)) ==
        "Anonymous sessions may not use encryption.");
  CHECK(TlsLoginRefusal(plain, true, false) == nullptr);
  const Config forced =
      Parse("ssl_enable=YES\nallow_anon_ssl=YES\nforce_anon_logins_ssl=YES\n");
  CHECK(std::string(TlsLoginRefusal(forced, true, false)) ==
        "Anonymous sessions must use encryption.");
  CHECK(TlsLoginRefusal(forced, true, true) == nullptr);
}

// ---- userlist_enable / userlist_deny ----

TEST_CASE("without userlist_enable the list is not consulted") {
  const std::vector<std::string> list = {"alice"};
  for (std::string_view text : {"", "userlist_deny=YES\n", "userlist_deny=NO\n"}) {
    CAPTURE(text);
    const Config config = Parse(text);
    CHECK(UserListAllows(config, list, "alice"));
    CHECK(UserListAllows(config, list, "bob"));
    CHECK(UserListAllows(config, {}, "bob"));
  }
}

TEST_CASE("userlist_enable with userlist_deny (its default) refuses the listed users") {
  const std::vector<std::string> list = {"alice", " root "};
  for (std::string_view text :
       {"userlist_enable=YES\n", "userlist_enable=YES\nuserlist_deny=YES\n"}) {
    CAPTURE(text);
    const Config config = Parse(text);
    CHECK_FALSE(UserListAllows(config, list, "alice"));
    CHECK_FALSE(UserListAllows(config, list, "root"));
    CHECK(UserListAllows(config, list, "bob"));
    CHECK(UserListAllows(config, list, "Alice"));
    CHECK(UserListAllows(config, {}, "alice"));
  }
}

TEST_CASE("userlist_enable with userlist_deny=NO lets only the listed users in") {
  const Config config = Parse("userlist_enable=YES\nuserlist_deny=NO\n");
  const std::vector<std::string> list = {"alice", " bob "};
  CHECK(UserListAllows(config, list, "alice"));
  CHECK(UserListAllows(config, list, "bob"));
  CHECK_FALSE(UserListAllows(config, list, "carol"));
  CHECK_FALSE(UserListAllows(config, list, "Alice"));
  CHECK_FALSE(UserListAllows(config, {}, "alice"));  // an empty list lets nobody in
}

}  // namespace
}  // namespace keepftpd
