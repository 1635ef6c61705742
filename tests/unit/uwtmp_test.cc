// Tests for src/monitor/uwtmp.cc, against temporary files (UwtmpFiles), never the system's: a
// login is one USER_PROCESS record in utmp and wtmp with the user, the host (its address parsed
// as last -i shows it), the pid and the line "ftp<pid>"; a logout is a DEAD_PROCESS record for
// that line in both, after which utmp shows no one there and wtmp keeps both; names longer than
// their fields are cut without touching the fields after them.
#include "uwtmp.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>
#include <utmpx.h>

#include <cstring>
#include <string>
#include <vector>

#include "test_support.h"

namespace keepftpd {
namespace {

// A pid no process of the test has: the records only carry it.
constexpr pid_t kPid = 424242;
constexpr char kLine[] = "ftp424242";

// An empty utmp and an empty wtmp (libc writes only into files that exist).
struct Files {
  test::TempFile utmp, wtmp;
  UwtmpFiles names() const { return UwtmpFiles{utmp.path(), wtmp.path()}; }
};

// A fixed-width, maybe unterminated, field as a string.
template <std::size_t N>
std::string Field(const char (&field)[N]) {
  return std::string(field, strnlen(field, N));
}

// The records of a utmp file as who(1) reads them: through libc, by name.
std::vector<struct utmpx> ReadUtmp(const std::string& path) {
  std::vector<struct utmpx> out;
  CHECK_OR_RETURN(utmpxname(path.c_str()) == 0, out);
  setutxent();
  while (struct utmpx* ut = getutxent()) out.push_back(*ut);
  endutxent();
  utmpxname(_PATH_UTMP);
  return out;
}

// The records of a wtmp file as last(1) reads them: whole struct utmpx, one after another.
std::vector<struct utmpx> ReadWtmp(const test::TempFile& file) {
  std::vector<struct utmpx> out;
  const std::string bytes = file.Contents();
  CHECK_OR_RETURN(bytes.size() % sizeof(struct utmpx) == 0, out);
  for (std::size_t at = 0; at < bytes.size(); at += sizeof(struct utmpx)) {
    struct utmpx ut;
    std::memcpy(&ut, bytes.data() + at, sizeof(ut));
    out.push_back(ut);
  }
  return out;
}

// The live (USER_PROCESS) records for a line.
int LiveEntries(const std::vector<struct utmpx>& records, const std::string& line) {
  int n = 0;
  for (const struct utmpx& ut : records) {
    if (ut.ut_type == USER_PROCESS && Field(ut.ut_line) == line) ++n;
  }
  return n;
}

// The address field as it should read for host: 4 or 16 bytes from inet_pton, the rest zero.
std::string AddressBytes(int family, const char* host) {
  unsigned char addr[16] = {};
  CHECK(inet_pton(family, host, addr) == 1);
  return std::string(reinterpret_cast<const char*>(addr), sizeof(addr));
}
std::string AddressBytes(const struct utmpx& ut) {
  return std::string(reinterpret_cast<const char*>(ut.ut_addr_v6), sizeof(ut.ut_addr_v6));
}

// A login record of this session: type, pid, line and id (as login(1) picks it), user, host,
// and a time of now.
void CheckLoginRecord(const struct utmpx& ut, const std::string& user, const std::string& host) {
  CHECK(ut.ut_type == USER_PROCESS);
  CHECK(ut.ut_pid == kPid);
  CHECK(Field(ut.ut_line) == kLine);
  CHECK(Field(ut.ut_id) == "4242");
  CHECK(Field(ut.ut_user) == user);
  CHECK(Field(ut.ut_host) == host);
  struct timeval now;
  gettimeofday(&now, nullptr);
  CHECK(ut.ut_tv.tv_sec <= now.tv_sec);
  CHECK(ut.ut_tv.tv_sec >= now.tv_sec - 60);
}

// What a command prints, or "" when it could not run.
std::string Run(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return "";
  std::string out = test::ReadAll(fileno(p));
  pclose(p);
  return out;
}

TEST_CASE("a login is one USER_PROCESS record in utmp and in wtmp") {
  Files files;
  SUBCASE("from an IPv4 address") {
    UwtmpLogin("alice", "192.0.2.7", kPid, files.names());
    const std::vector<struct utmpx> utmp = ReadUtmp(files.utmp.path());
    const std::vector<struct utmpx> wtmp = ReadWtmp(files.wtmp);
    CHECK_OR_RETURN(utmp.size() == 1);
    CHECK_OR_RETURN(wtmp.size() == 1);
    CheckLoginRecord(utmp[0], "alice", "192.0.2.7");
    CheckLoginRecord(wtmp[0], "alice", "192.0.2.7");
    CHECK(AddressBytes(utmp[0]) == AddressBytes(AF_INET, "192.0.2.7"));
    CHECK(AddressBytes(wtmp[0]) == AddressBytes(AF_INET, "192.0.2.7"));
  }
  SUBCASE("from an IPv6 address") {
    UwtmpLogin("bob", "2001:db8::42", kPid, files.names());
    const std::vector<struct utmpx> utmp = ReadUtmp(files.utmp.path());
    const std::vector<struct utmpx> wtmp = ReadWtmp(files.wtmp);
    CHECK_OR_RETURN(utmp.size() == 1);
    CHECK_OR_RETURN(wtmp.size() == 1);
    CheckLoginRecord(utmp[0], "bob", "2001:db8::42");
    CheckLoginRecord(wtmp[0], "bob", "2001:db8::42");
    CHECK(AddressBytes(utmp[0]) == AddressBytes(AF_INET6, "2001:db8::42"));
    CHECK(AddressBytes(wtmp[0]) == AddressBytes(AF_INET6, "2001:db8::42"));
  }
  SUBCASE("from a host that is no address: the name, and no address") {
    UwtmpLogin("carol", "client.example", kPid, files.names());
    const std::vector<struct utmpx> wtmp = ReadWtmp(files.wtmp);
    CHECK_OR_RETURN(wtmp.size() == 1);
    CheckLoginRecord(wtmp[0], "carol", "client.example");
    CHECK(AddressBytes(wtmp[0]) == std::string(16, '\0'));
  }
  // The seam names the temporary utmp for the one call: libc's next reader is back on the
  // system's file, where no record of this test is.
  setutxent();
  while (struct utmpx* ut = getutxent()) CHECK(Field(ut->ut_line) != kLine);
  endutxent();
}

TEST_CASE("a logout is a DEAD_PROCESS record: utmp has no one on the line, wtmp keeps both") {
  Files files;
  UwtmpLogin("alice", "192.0.2.7", kPid, files.names());
  // Another session's record stays as it is.
  UwtmpLogin("bob", "192.0.2.8", kPid + 1, files.names());
  UwtmpLogout(kPid, files.names());

  const std::vector<struct utmpx> utmp = ReadUtmp(files.utmp.path());
  CHECK(LiveEntries(utmp, kLine) == 0);
  CHECK(LiveEntries(utmp, "ftp424243") == 1);
  // The login record was replaced in place (same id), not joined by a second one.
  int dead = 0;
  for (const struct utmpx& ut : utmp) {
    if (Field(ut.ut_line) != kLine) continue;
    ++dead;
    CHECK(ut.ut_type == DEAD_PROCESS);
    CHECK(ut.ut_pid == kPid);
  }
  CHECK(dead == 1);
  CHECK(utmp.size() == 2);

  const std::vector<struct utmpx> wtmp = ReadWtmp(files.wtmp);
  CHECK_OR_RETURN(wtmp.size() == 3);
  CheckLoginRecord(wtmp[0], "alice", "192.0.2.7");
  CHECK(wtmp[2].ut_type == DEAD_PROCESS);
  CHECK(wtmp[2].ut_pid == kPid);
  CHECK(Field(wtmp[2].ut_line) == kLine);
  CHECK(Field(wtmp[2].ut_id) == "4242");
  CHECK(Field(wtmp[2].ut_user).empty());
  CHECK(wtmp[2].ut_tv.tv_sec >= wtmp[0].ut_tv.tv_sec);
}

TEST_CASE("names longer than their fields are cut, and the fields after them stay whole") {
  Files files;
  const std::string user(sizeof(utmpx{}.ut_user) + 20, 'u');
  const std::string host(sizeof(utmpx{}.ut_host) + 50, 'h');
  SUBCASE("a long user name") {
    UwtmpLogin(user, "192.0.2.7", kPid, files.names());
    const std::vector<struct utmpx> wtmp = ReadWtmp(files.wtmp);
    CHECK_OR_RETURN(wtmp.size() == 1);
    CheckLoginRecord(wtmp[0], user.substr(0, sizeof(wtmp[0].ut_user)), "192.0.2.7");
    CHECK(AddressBytes(wtmp[0]) == AddressBytes(AF_INET, "192.0.2.7"));
  }
  SUBCASE("a long host name") {
    UwtmpLogin("alice", host, kPid, files.names());
    const std::vector<struct utmpx> wtmp = ReadWtmp(files.wtmp);
    CHECK_OR_RETURN(wtmp.size() == 1);
    CheckLoginRecord(wtmp[0], "alice", host.substr(0, sizeof(wtmp[0].ut_host)));
    CHECK(AddressBytes(wtmp[0]) == std::string(16, '\0'));
    CHECK(wtmp[0].ut_exit.e_termination == 0);
    CHECK(wtmp[0].ut_session == 0);
  }
  // One record each, of the record's size: nothing was written past it.
  CHECK(files.wtmp.Contents().size() == sizeof(struct utmpx));
  CHECK(files.utmp.Contents().size() == sizeof(struct utmpx));
}

TEST_CASE("last(1) shows the session from the wtmp file, with its address, then its end") {
  if (Run("command -v last").empty()) {
    MESSAGE("skipped: no last(1)");
    return;
  }
  Files files;
  UwtmpLogin("alice", "2001:db8::42", kPid, files.names());
  // -w: whole names; -i: the address from ut_addr_v6 rather than the host field. last(1) shows
  // the line "ftp<pid>" as "ftp". An open session is "still logged in", or "gone - no logout"
  // when it cannot tie the pid to a logged-in user (as here: no such user, no such process).
  std::string out = Run("last -w -i -f " + files.wtmp.path());
  INFO(out);
  CHECK(out.find("alice    ftp ") != std::string::npos);
  CHECK(out.find("2001:db8::42") != std::string::npos);
  CHECK((out.find("still logged in") != std::string::npos ||
         out.find("gone - no logout") != std::string::npos));

  // The logout found its login: an end time (or "still running", last(1)'s word for an end in
  // the current second), no longer an open session.
  UwtmpLogout(kPid, files.names());
  out = Run("last -w -i -f " + files.wtmp.path());
  INFO(out);
  CHECK(out.find("alice    ftp ") != std::string::npos);
  CHECK(out.find("still logged in") == std::string::npos);
  CHECK(out.find("no logout") == std::string::npos);
}

}  // namespace
}  // namespace keepftpd
