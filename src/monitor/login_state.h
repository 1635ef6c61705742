// Failed logins remembered across connections. Monitor process only, while privileged.
//
// Every connection has its own processes, so max_login_fails alone lets a client guess forever
// by reconnecting. The monitors of all connections therefore share one small table,
// login_state_dir/logins: failed logins per client address (an IPv6 address counts by its /64,
// which one host usually owns whole) and per user name, each counted over ban_window seconds.
// The counts make the failure delay grow; ban_max_login_fails failures from one address ban it
// for ban_time seconds, and later connections from it get 421 before anything they send is read.
//
// The table has a fixed size, so no client can make it grow: when the records a key may use are
// all taken, the stalest gives way, but never a live ban (a ban lasts until its end whatever
// else happens to the table). When all of them hold live bans, the failure cannot be kept: it
// is reported as uncounted, and the monitor ends the connection as for a ban. Records are placed by a hash keyed with a random salt kept
// in the file, so a client cannot pick addresses that fight over the same records. Every use holds flock(LOCK_EX)
// on the file for a few microseconds. A user name is kept only as a hash.
#ifndef KEEPFTPD_SRC_MONITOR_LOGIN_STATE_H_
#define KEEPFTPD_SRC_MONITOR_LOGIN_STATE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sockaddr.h"
#include "status.h"
#include "unique_fd.h"

namespace keepftpd {

struct LoginKey {
  std::uint8_t kind = 0;  // kAddressKey or kUserKey
  std::uint8_t bytes[16] = {};
};
constexpr std::uint8_t kAddressKey = 1;
constexpr std::uint8_t kUserKey = 2;

// IPv4 as ::ffff:a.b.c.d; IPv6 by its first 64 bits.
LoginKey AddressKey(const SockAddr& peer);
LoginKey UserKey(std::string_view user);

// The table over a caller's buffer of kLoginTableBytes (a mapping of the file, or memory in the
// tests). Times are seconds of the real-time clock.
class LoginTable {
 public:
  static constexpr std::size_t kHeaderBytes = 64;
  static constexpr std::size_t kSlots = 4096;
  static constexpr std::size_t kSlotBytes = 32;
  static constexpr std::size_t kProbes = 32;  // records a key may use

  LoginTable(unsigned char* data, std::size_t size) : data_(data), size_(size) {}
  // A table needs Init() when the buffer does not hold one (new, truncated or foreign file).
  bool Valid() const;
  void Init(const std::uint8_t salt[16]);

  // The end of the key's ban, or 0 when it is not banned at `now`.
  std::uint32_t BannedUntil(const LoginKey& key, std::uint32_t now) const;
  // Counts one failure and returns the key's failures within the last `window` seconds,
  // this one included; kUncounted when every record the key may use holds a live ban.
  static constexpr std::uint32_t kUncounted = UINT32_MAX;
  std::uint32_t RecordFailure(const LoginKey& key, std::uint32_t now, std::uint32_t window);
  // Bans the key until `until`; nothing when every record it may use holds a live ban.
  void Ban(const LoginKey& key, std::uint32_t until, std::uint32_t now, std::uint32_t window);

 private:
  std::size_t Home(const LoginKey& key) const;
  // The key's record, or nullptr.
  unsigned char* Find(const LoginKey& key) const;
  // The key's record, taking the emptiest or stalest one it may use when it has none.
  unsigned char* FindOrTake(const LoginKey& key, std::uint32_t now, std::uint32_t window);

  unsigned char* data_;
  std::size_t size_;
};

constexpr std::size_t kLoginTableBytes =
    LoginTable::kHeaderBytes + LoginTable::kSlots * LoginTable::kSlotBytes;

// The shared file: opened (and the directory created, mode 0700) by the monitor. The directory
// and the file must belong to the monitor's user and be writable by nobody else.
class LoginState {
 public:
  static Result<LoginState> Open(const std::string& dir);

  struct Failure {
    std::uint32_t address_fails = 0;  // within the window, this one included
    std::uint32_t user_fails = 0;
    bool banned = false;              // the address is banned now (or the failure is uncounted)
    bool ban_started = false;         // by this failure
    bool uncounted = false;           // the table is full of live bans where the address goes
  };
  // 0 when the address is not banned, else the seconds left.
  Result<std::uint32_t> BannedFor(const SockAddr& peer);
  // ban_fails 0: never ban.
  Result<Failure> RecordFailure(const SockAddr& peer, std::string_view user, std::uint32_t window,
                                std::uint32_t ban_fails, std::uint32_t ban_time);

 private:
  // Locks and maps the file, calls f(table, now), unmaps and unlocks.
  template <typename F>
  Status WithTable(F&& f);
  UniqueFd fd_;
};

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_LOGIN_STATE_H_
