// Tests for src/monitor/login_state.cc: the table of failed logins shared across connections.
#include "login_state.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

namespace keepftpd {
namespace {

SockAddr Host(std::string_view host) {
  Result<SockAddr> r = SockAddr::FromHostString(host, 21);
  CHECK_MESSAGE(r.ok(), host);
  return r.ok() ? r.value() : SockAddr();
}

struct Table {
  std::vector<unsigned char> bytes = std::vector<unsigned char>(kLoginTableBytes);
  LoginTable table{bytes.data(), bytes.size()};
  Table() {
    std::uint8_t salt[16] = {1, 2, 3};
    table.Init(salt);
  }
};

TEST_CASE("an empty buffer is not a table until it is initialised") {
  std::vector<unsigned char> bytes(kLoginTableBytes);
  LoginTable table(bytes.data(), bytes.size());
  CHECK_FALSE(table.Valid());
  std::uint8_t salt[16] = {};
  table.Init(salt);
  CHECK(table.Valid());
  LoginTable short_table(bytes.data(), bytes.size() - 1);
  CHECK_FALSE(short_table.Valid());
}

TEST_CASE("failures are counted per key within the window") {
  Table t;
  LoginKey a = AddressKey(Host("192.0.2.1"));
  LoginKey b = AddressKey(Host("192.0.2.2"));
  CHECK(t.table.RecordFailure(a, 1000, 60) == 1);
  CHECK(t.table.RecordFailure(a, 1010, 60) == 2);
  CHECK(t.table.RecordFailure(b, 1010, 60) == 1);
  CHECK(t.table.RecordFailure(a, 1059, 60) == 3);
  // The window started at the first failure; after it the count starts again.
  CHECK(t.table.RecordFailure(a, 1060, 60) == 1);
  // A clock stepped backwards starts a new window instead of underflowing.
  CHECK(t.table.RecordFailure(a, 500, 60) == 1);
}

TEST_CASE("a ban lasts until its end") {
  Table t;
  LoginKey a = AddressKey(Host("192.0.2.1"));
  CHECK(t.table.BannedUntil(a, 1000) == 0);
  t.table.Ban(a, 1100, 1000, 60);
  CHECK(t.table.BannedUntil(a, 1000) == 1100);
  CHECK(t.table.BannedUntil(a, 1099) == 1100);
  CHECK(t.table.BannedUntil(a, 1100) == 0);
  CHECK(t.table.BannedUntil(AddressKey(Host("192.0.2.9")), 1000) == 0);
}

TEST_CASE("addresses: IPv4 as itself, mapped IPv4 the same, IPv6 by its /64") {
  LoginKey v4 = AddressKey(Host("192.0.2.1"));
  LoginKey mapped = AddressKey(Host("::ffff:192.0.2.1"));
  CHECK(std::memcmp(v4.bytes, mapped.bytes, 16) == 0);
  LoginKey x = AddressKey(Host("2001:db8:1:2::1"));
  LoginKey y = AddressKey(Host("2001:db8:1:2:ffff::7"));
  LoginKey z = AddressKey(Host("2001:db8:1:3::1"));
  CHECK(std::memcmp(x.bytes, y.bytes, 16) == 0);
  CHECK(std::memcmp(x.bytes, z.bytes, 16) != 0);
  Table t;
  CHECK(t.table.RecordFailure(x, 1000, 60) == 1);
  CHECK(t.table.RecordFailure(y, 1000, 60) == 2);
  CHECK(t.table.RecordFailure(z, 1000, 60) == 1);
}

TEST_CASE("user names and addresses are separate keys") {
  Table t;
  LoginKey user = UserKey("alice");
  CHECK(t.table.RecordFailure(user, 1000, 60) == 1);
  CHECK(t.table.RecordFailure(UserKey("Alice"), 1000, 60) == 1);
  CHECK(t.table.RecordFailure(user, 1000, 60) == 2);
  CHECK(t.table.RecordFailure(AddressKey(Host("192.0.2.1")), 1000, 60) == 1);
}

TEST_CASE("a full table stays its size: the stalest record gives way, live bans survive") {
  Table t;
  LoginKey banned = AddressKey(Host("198.51.100.7"));
  t.table.Ban(banned, 100000, 1000, 60);
  // Far more keys than records, all live.
  for (std::uint32_t i = 0; i < 3 * LoginTable::kSlots; ++i) {
    std::string host = "10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) +
                       "." + std::to_string(i & 255);
    CHECK(t.table.RecordFailure(AddressKey(Host(host)), 1001, 60) == 1);
  }
  // The ban outlives every window, so it was never the stalest record.
  CHECK(t.table.BannedUntil(banned, 2000) == 100000);
  CHECK(t.bytes.size() == kLoginTableBytes);
}

std::string TenNet(std::uint32_t i) {
  return "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
         std::to_string(i & 255);
}

// The attack: a ban lasts ban_time, failures count over ban_window. Once less than a window of
// the ban was left, a flood of single failures from other addresses outlived it and took its
// record: 1,500 addresses lifted a 900 s ban after 345 s.
TEST_CASE("a live ban is never given up for other records, however many and however fresh") {
  Table t;
  const std::uint32_t window = 600, start = 100000;
  LoginKey banned = AddressKey(Host("198.51.100.7"));
  t.table.Ban(banned, start + 900, start, window);
  // 500 s later, 400 s of the ban are left, less than a window: every new failure outlasts it.
  for (std::uint32_t i = 0; i < 4 * LoginTable::kSlots; ++i) {
    t.table.RecordFailure(AddressKey(Host(TenNet(i))), start + 500, window);
  }
  CHECK(t.table.BannedUntil(banned, start + 500) == start + 900);
  CHECK(t.table.BannedUntil(banned, start + 899) == start + 900);
  CHECK(t.table.BannedUntil(banned, start + 900) == 0);  // and it ends when it should
}

TEST_CASE("when every record an address may use holds a live ban, its failure is uncounted") {
  Table t;
  const std::uint32_t window = 600, now = 100000;
  // More bans than records: every record holds one.
  for (std::uint32_t i = 0; i < 2 * LoginTable::kSlots; ++i) {
    t.table.Ban(AddressKey(Host(TenNet(i))), now + 900, now, window);
  }
  LoginKey newcomer = AddressKey(Host("203.0.113.9"));
  CHECK(t.table.RecordFailure(newcomer, now + 1, window) == LoginTable::kUncounted);
  t.table.Ban(newcomer, now + 901, now + 1, window);  // nowhere to keep it: no effect
  CHECK(t.table.BannedUntil(newcomer, now + 1) == 0);
  // The bans that hold the records are all still there.
  std::uint32_t held = 0;
  for (std::uint32_t i = 0; i < 2 * LoginTable::kSlots; ++i) {
    held += t.table.BannedUntil(AddressKey(Host(TenNet(i))), now + 1) != 0;
  }
  CHECK(held == LoginTable::kSlots);
  // Once they end, failures are counted again.
  CHECK(t.table.RecordFailure(newcomer, now + 900, window) == 1);
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/keepftpd-login-state-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    unlink((path + "/state/logins").c_str());
    rmdir((path + "/state").c_str());
    rmdir(path.c_str());
  }
};

TEST_CASE("the file: created 0700/0600, shared by every opener, bans honoured") {
  TempDir dir;
  std::string state_dir = dir.path + "/state";
  Result<LoginState> one = LoginState::Open(state_dir);
  CHECK(one.ok());
  if (!one.ok()) return;
  struct stat st;
  CHECK(stat(state_dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  SockAddr peer = Host("203.0.113.5");
  Result<LoginState::Failure> f = one->RecordFailure(peer, "alice", 600, 3, 900);
  CHECK(f.ok());
  CHECK(f->address_fails == 1);
  CHECK_FALSE(f->banned);
  CHECK(stat((state_dir + "/logins").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(static_cast<std::size_t>(st.st_size) == kLoginTableBytes);
  Result<LoginState> two = LoginState::Open(state_dir);
  CHECK(two.ok());
  if (!two.ok()) return;
  f = two->RecordFailure(peer, "bob", 600, 3, 900);
  CHECK(f->address_fails == 2);
  CHECK(f->user_fails == 1);
  f = one->RecordFailure(peer, "bob", 600, 3, 900);
  CHECK(f->address_fails == 3);
  CHECK(f->user_fails == 2);
  CHECK(f->banned);
  CHECK(f->ban_started);
  Result<std::uint32_t> left = two->BannedFor(peer);
  CHECK(left.ok());
  CHECK(*left > 890);
  CHECK(*left <= 900);
  CHECK(*two->BannedFor(Host("203.0.113.6")) == 0);
}

TEST_CASE("the file: a directory others can write is refused") {
  TempDir dir;
  std::string state_dir = dir.path + "/state";
  CHECK(mkdir(state_dir.c_str(), 0700) == 0);
  CHECK(chmod(state_dir.c_str(), 0777) == 0);
  Result<LoginState> s = LoginState::Open(state_dir);
  CHECK_FALSE(s.ok());
  CHECK(s.status().message().find("writable") != std::string::npos);
  CHECK_FALSE(LoginState::Open("relative/dir").ok());
}

}  // namespace
}  // namespace keepftpd
