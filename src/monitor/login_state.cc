// The table of failed logins shared by every connection's monitor (login_state.h). Monitor only,
// while privileged.
#include "login_state.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace keepftpd {

namespace {

constexpr char kMagic[8] = {'K', 'F', 'T', 'P', 'L', 'G', 'N', '1'};
constexpr std::size_t kSaltOffset = 8;

// A record: kind (0: free), failures, start of their window, end of a ban, key.
constexpr std::size_t kKind = 0, kCount = 4, kFirst = 8, kBanUntil = 12, kKeyBytes = 16;

std::uint32_t Get32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

void Put32(unsigned char* p, std::uint32_t v) { std::memcpy(p, &v, 4); }

bool Matches(const unsigned char* slot, const LoginKey& key) {
  return slot[kKind] == key.kind && std::memcmp(slot + kKeyBytes, key.bytes, 16) == 0;
}

// How long the record still matters: until its window or its ban ends, whichever is later.
std::uint64_t LastsUntil(const unsigned char* slot, std::uint32_t window) {
  if (slot[kKind] == 0) return 0;
  std::uint64_t w = std::uint64_t{Get32(slot + kFirst)} + window;
  std::uint64_t b = Get32(slot + kBanUntil);
  return w > b ? w : b;
}

// A 64-bit hash of the seed and the bytes (FNV-1a, then splitmix64's finaliser so every bit
// of the input moves the low bits the slot index uses). Local and cheap: the table is looked at
// at every connection, and this keeps OpenSSL's lazy start-up out of that path. With the
// table's random salt as the seed, a client cannot aim its addresses at one record.
std::uint64_t Mix(std::uint64_t seed, const unsigned char* data, std::size_t size) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

LoginKey AddressKey(const SockAddr& peer) {
  LoginKey key;
  key.kind = kAddressKey;
  SockAddr a = peer.Normalized();
  if (a.family() == AF_INET) {
    key.bytes[10] = 0xff;
    key.bytes[11] = 0xff;
    a.GetV4Bytes(key.bytes + 12);
  } else if (a.family() == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a.raw());
    std::memcpy(key.bytes, sin6->sin6_addr.s6_addr, 8);
  }
  return key;
}

LoginKey UserKey(std::string_view user) {
  LoginKey key;
  key.kind = kUserKey;
  const auto* bytes = reinterpret_cast<const unsigned char*>(user.data());
  const std::uint64_t a = Mix(0x6b65657066747064ULL, bytes, user.size());
  const std::uint64_t b = Mix(0x75736572206e616dULL, bytes, user.size());
  std::memcpy(key.bytes, &a, 8);
  std::memcpy(key.bytes + 8, &b, 8);
  return key;
}

bool LoginTable::Valid() const {
  return size_ == kLoginTableBytes && std::memcmp(data_, kMagic, sizeof kMagic) == 0;
}

void LoginTable::Init(const std::uint8_t salt[16]) {
  std::memset(data_, 0, size_);
  std::memcpy(data_, kMagic, sizeof kMagic);
  std::memcpy(data_ + kSaltOffset, salt, 16);
}

std::size_t LoginTable::Home(const LoginKey& key) const {
  unsigned char in[16 + 1 + 16];
  std::memcpy(in, data_ + kSaltOffset, 16);
  in[16] = key.kind;
  std::memcpy(in + 17, key.bytes, 16);
  std::uint64_t seed;
  std::memcpy(&seed, data_ + kSaltOffset + 8, sizeof seed);
  return static_cast<std::size_t>(Mix(seed, in, sizeof in) % kSlots);
}

unsigned char* LoginTable::Find(const LoginKey& key) const {
  std::size_t home = Home(key);
  for (std::size_t i = 0; i < kProbes; ++i) {
    unsigned char* slot = data_ + kHeaderBytes + ((home + i) % kSlots) * kSlotBytes;
    if (Matches(slot, key)) return slot;
  }
  return nullptr;
}

unsigned char* LoginTable::FindOrTake(const LoginKey& key, std::uint32_t now,
                                      std::uint32_t window) {
  if (unsigned char* found = Find(key)) return found;
  std::size_t home = Home(key);
  unsigned char* best = nullptr;
  std::uint64_t best_until = 0;
  for (std::size_t i = 0; i < kProbes; ++i) {
    unsigned char* slot = data_ + kHeaderBytes + ((home + i) % kSlots) * kSlotBytes;
    std::uint64_t until = LastsUntil(slot, window);
    if (until <= now) {  // free, or nothing in it matters any more
      best = slot;
      break;
    }
    // A live ban never gives way, however soon it ends: otherwise addresses that fail once
    // each, enough of them, would lift it.
    if (Get32(slot + kBanUntil) > now) continue;
    if (best == nullptr || until < best_until) {
      best = slot;
      best_until = until;
    }
  }
  if (best == nullptr) return nullptr;  // every record the key may use holds a live ban
  std::memset(best, 0, kSlotBytes);
  best[kKind] = key.kind;
  std::memcpy(best + kKeyBytes, key.bytes, 16);
  Put32(best + kFirst, now);
  return best;
}

std::uint32_t LoginTable::BannedUntil(const LoginKey& key, std::uint32_t now) const {
  const unsigned char* slot = Find(key);
  if (slot == nullptr) return 0;
  std::uint32_t until = Get32(slot + kBanUntil);
  return until > now ? until : 0;
}

std::uint32_t LoginTable::RecordFailure(const LoginKey& key, std::uint32_t now,
                                        std::uint32_t window) {
  unsigned char* slot = FindOrTake(key, now, window);
  if (slot == nullptr) return kUncounted;
  std::uint32_t first = Get32(slot + kFirst);
  std::uint32_t count = Get32(slot + kCount);
  if (now < first || std::uint64_t{now} - first >= window) {  // a new window (or a clock step)
    Put32(slot + kFirst, now);
    count = 0;
  }
  if (count < UINT32_MAX) ++count;
  Put32(slot + kCount, count);
  return count;
}

void LoginTable::Ban(const LoginKey& key, std::uint32_t until, std::uint32_t now,
                     std::uint32_t window) {
  unsigned char* slot = FindOrTake(key, now, window);
  if (slot != nullptr) Put32(slot + kBanUntil, until);
}

// ---- The file ----

namespace {

// what (the descriptor's name, for messages) must be ours and writable by nobody else; regular:
// a regular file too.
Status CheckOwnership(int fd, const std::string& what, bool regular) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Status::FromErrno(errno, what);
  if (regular && !S_ISREG(st.st_mode)) return Status::Error(what + " is not a regular file");
  if (st.st_uid != geteuid()) {
    return Status::Error(what + " must belong to uid " + std::to_string(geteuid()) +
                         ", not " + std::to_string(st.st_uid));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::Error(what + " must not be writable by group or others");
  }
  return Status::Ok();
}

std::uint32_t Now() { return static_cast<std::uint32_t>(time(nullptr)); }

}  // namespace

Result<LoginState> LoginState::Open(const std::string& dir) {
  if (dir.empty() || dir[0] != '/') return Status::Error("login_state_dir must be absolute");
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "login_state_dir=" + dir + ": mkdir");
  }
  UniqueFd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d.valid()) return Status::FromErrno(errno, "login_state_dir=" + dir);
  Status s = CheckOwnership(d.get(), "login_state_dir=" + dir, false);
  if (!s.ok()) return s;
  LoginState state;
  state.fd_.Reset(openat(d.get(), "logins", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!state.fd_.valid()) return Status::FromErrno(errno, dir + "/logins");
  s = CheckOwnership(state.fd_.get(), dir + "/logins", true);
  if (!s.ok()) return s;
  return state;
}

template <typename F>
Status LoginState::WithTable(F&& f) {
  if (flock(fd_.get(), LOCK_EX) != 0) return Status::FromErrno(errno, "flock on the login table");
  struct Unlock {
    int fd;
    ~Unlock() { flock(fd, LOCK_UN); }
  } unlock{fd_.get()};
  struct stat st;
  if (fstat(fd_.get(), &st) != 0) return Status::FromErrno(errno, "fstat of the login table");
  if (static_cast<std::size_t>(st.st_size) != kLoginTableBytes &&
      ftruncate(fd_.get(), static_cast<off_t>(kLoginTableBytes)) != 0) {
    return Status::FromErrno(errno, "sizing the login table");
  }
  void* map = mmap(nullptr, kLoginTableBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (map == MAP_FAILED) return Status::FromErrno(errno, "mapping the login table");
  LoginTable table(static_cast<unsigned char*>(map), kLoginTableBytes);
  Status result;
  if (!table.Valid()) {
    std::uint8_t salt[16];
    if (getrandom(salt, sizeof salt, 0) != static_cast<ssize_t>(sizeof salt)) {
      result = Status::FromErrno(errno, "getrandom");
    } else {
      table.Init(salt);
    }
  }
  if (result.ok()) f(table, Now());
  munmap(map, kLoginTableBytes);
  return result;
}

Result<std::uint32_t> LoginState::BannedFor(const SockAddr& peer) {
  std::uint32_t left = 0;
  LoginKey key = AddressKey(peer);
  Status s = WithTable([&](LoginTable& table, std::uint32_t now) {
    std::uint32_t until = table.BannedUntil(key, now);
    left = until > now ? until - now : 0;
  });
  if (!s.ok()) return s;
  return left;
}

Result<LoginState::Failure> LoginState::RecordFailure(const SockAddr& peer, std::string_view user,
                                                      std::uint32_t window,
                                                      std::uint32_t ban_fails,
                                                      std::uint32_t ban_time) {
  Failure f;
  LoginKey address = AddressKey(peer);
  LoginKey name = UserKey(user);
  Status s = WithTable([&](LoginTable& table, std::uint32_t now) {
    f.address_fails = table.RecordFailure(address, now, window);
    f.user_fails = table.RecordFailure(name, now, window);
    f.uncounted = f.address_fails == LoginTable::kUncounted;
    if (ban_fails > 0 && !f.uncounted && f.address_fails >= ban_fails &&
        table.BannedUntil(address, now) == 0) {
      table.Ban(address, now + ban_time, now, window);
      f.ban_started = true;
    }
    // A failure the table could not keep ends the connection as a ban would.
    f.banned = f.uncounted || table.BannedUntil(address, now) != 0;
  });
  if (!s.ok()) return s;
  return f;
}

}  // namespace keepftpd
