// Directory listings: reading a directory, LIST lines as vsftpd prints them, NLST and MLSD/MLST
// facts. Used by the session jail after chroot: no NSS lookups, ids are numeric or "ftp".
#include "listing.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>

#include "strutil.h"
#include "unique_fd.h"

namespace keepftpd {
namespace {

constexpr time_t kRecentSeconds = 180 * 24 * 60 * 60;

// A LIST line's part before the name is cut at this many bytes (see AppendListLine).
constexpr std::size_t kMaxListPrefix = 159;

// English regardless of locale, as vsftpd's "C" locale strftime("%b") prints them.
constexpr const char* kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Lines are written straight into the listing: Room makes space at the end of the output for
// the most a line can take, the Put* writers fill it through a pointer and return where they
// ended, and Done trims the output to that end. (Appended piece by piece, each append
// checking the string's capacity, 20,000 lines took 2.3 ms for LIST and 2.5 for MLSD; written
// this way, 1.7 and 1.4.)
char* Room(std::string* out, std::size_t most) {
  const std::size_t size = out->size();
  out->resize(size + most);
  return out->data() + size;
}

void Done(std::string* out, const char* end) {
  out->resize(static_cast<std::size_t>(end - out->data()));
}

// The longest number to_chars writes: 2^64 - 1 in decimal is 20 digits; in base 8, 22.
constexpr std::size_t kMaxDigits = 24;

char* PutText(char* p, std::string_view text) {
  std::memcpy(p, text.data(), text.size());
  return p + text.size();
}

char* PutNumber(char* p, unsigned long long value, int base = 10) {
  return std::to_chars(p, p + kMaxDigits, value, base).ptr;
}

// value right-aligned in width, padded with fill (printf's "%0*llu" or "%*llu").
char* PutPadded(char* p, unsigned long long value, std::size_t width, int base = 10,
                char fill = '0') {
  char digits[kMaxDigits];
  const char* end = std::to_chars(digits, digits + sizeof(digits), value, base).ptr;
  const auto n = static_cast<std::size_t>(end - digits);
  if (n < width) p = std::fill_n(p, width - n, fill);
  return PutText(p, std::string_view(digits, n));
}

// A value from 0 to 99 as two digits (dates' fields).
char* PutTwoDigits(char* p, int value) {
  p[0] = static_cast<char>('0' + value / 10 % 10);
  p[1] = static_cast<char>('0' + value % 10);
  return p + 2;
}

// text left-aligned in width, padded with spaces (printf's "%-*s"; longer text is not cut).
char* PutLeftAligned(char* p, std::string_view text, std::size_t width) {
  p = PutText(p, text);
  return text.size() < width ? std::fill_n(p, width - text.size(), ' ') : p;
}

// A name with CR and LF as '?' (see ListingName).
char* PutName(char* p, std::string_view name) {
  for (char c : name) *p++ = (c == '\r' || c == '\n') ? '?' : c;
  return p;
}

// "drwxr-xr-x": the type letter, then the permission bits as ls prints them.
char* PutPerms(char* p, mode_t mode) {
  char* perms = p;
  std::fill(perms, perms + 10, '-');
  if (S_ISDIR(mode)) {
    perms[0] = 'd';
  } else if (S_ISLNK(mode)) {
    perms[0] = 'l';
  } else if (S_ISFIFO(mode)) {
    perms[0] = 'p';
  } else if (S_ISSOCK(mode)) {
    perms[0] = 's';
  } else if (S_ISCHR(mode)) {
    perms[0] = 'c';
  } else if (S_ISBLK(mode)) {
    perms[0] = 'b';
  }
  static constexpr mode_t kBits[9] = {S_IRUSR, S_IWUSR, S_IXUSR, S_IRGRP, S_IWGRP,
                                      S_IXGRP, S_IROTH, S_IWOTH, S_IXOTH};
  static constexpr char kLetters[] = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if (mode & kBits[i]) perms[i + 1] = kLetters[i];
  }
  if (mode & S_ISUID) perms[3] = (perms[3] == 'x') ? 's' : 'S';
  if (mode & S_ISGID) perms[6] = (perms[6] == 'x') ? 's' : 'S';
  if (mode & S_ISVTX) perms[9] = (perms[9] == 'x') ? 't' : 'T';
  return p + 10;
}

}  // namespace

void AppendListingName(std::string_view name, std::string* out) {
  Done(out, PutName(Room(out, name.size()), name));
}

std::string ListingName(std::string_view name) {
  std::string out;
  AppendListingName(name, &out);
  return out;
}

void AppendNlstLine(std::string_view prefix, std::string_view name, std::string* out) {
  char* p = Room(out, prefix.size() + name.size() + 2);
  p = PutName(PutName(p, prefix), name);
  Done(out, PutText(p, "\r\n"));
}

namespace {

// A date as LIST and MLSx print it; 1970-01-01 00:00:00 when it cannot be computed.
struct CalendarTime {
  long long year = 1970;
  int mon = 0;  // 0-11
  int mday = 1, hour = 0, min = 0, sec = 0;
};

// Within this many seconds of 1970 (about 34,800 years either way), UTC dates are computed here
// (days to civil date, proleptic Gregorian, as glibc's gmtime_r); beyond it gmtime_r decides,
// including when the year does not fit its int.
constexpr time_t kDirectDateLimit = time_t{1} << 40;

CalendarTime ToCalendarTime(time_t t, bool use_localtime) {
  CalendarTime d;
  if (!use_localtime && t > -kDirectDateLimit && t < kDirectDateLimit) {
    long long days = t / 86400;
    long long secs = t % 86400;
    if (secs < 0) {
      secs += 86400;
      --days;
    }
    // Howard Hinnant's civil_from_days: eras of 400 years from 0000-03-01.
    const long long z = days + 719468;
    const long long era = (z >= 0 ? z : z - 146096) / 146097;
    const long long doe = z - era * 146097;
    const long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const long long mp = (5 * doy + 2) / 153;
    const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);  // 1-12
    d.year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    d.mon = month - 1;
    d.mday = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    d.hour = static_cast<int>(secs / 3600);
    d.min = static_cast<int>(secs / 60 % 60);
    d.sec = static_cast<int>(secs % 60);
    return d;
  }
  struct tm tm = {};
  bool ok = use_localtime ? localtime_r(&t, &tm) != nullptr : gmtime_r(&t, &tm) != nullptr;
  if (!ok || tm.tm_mon < 0 || tm.tm_mon > 11) return d;
  d.year = static_cast<long long>(tm.tm_year) + 1900;
  d.mon = tm.tm_mon;
  d.mday = tm.tm_mday;
  d.hour = tm.tm_hour;
  d.min = tm.tm_min;
  d.sec = tm.tm_sec;
  return d;
}


// The longest date PutListDate writes: "Nov 22 " and a '-' with a year of up to 20 digits.
constexpr std::size_t kMaxListDate = 8 + 21;

// "Nov 22 07:40" when recent, "Nov 22  2026" otherwise (strftime's "%b %d %H:%M" and
// "%b %d  %Y", the year unpadded and possibly negative).
char* PutListDate(char* p, time_t mtime, const ListFormat& format) {
  const CalendarTime d = ToCalendarTime(mtime, format.use_localtime);
  time_t age = 0;
  bool recent = mtime <= format.now && !__builtin_sub_overflow(format.now, mtime, &age) &&
                age <= kRecentSeconds;
  p = PutText(p, std::string_view(kMonths[d.mon], 3));
  *p++ = ' ';
  p = PutTwoDigits(p, d.mday);
  *p++ = ' ';
  if (recent) {
    p = PutTwoDigits(p, d.hour);
    *p++ = ':';
    return PutTwoDigits(p, d.min);
  }
  *p++ = ' ';
  if (d.year < 0) *p++ = '-';
  return PutNumber(p, d.year < 0 ? 0ULL - static_cast<unsigned long long>(d.year)
                                 : static_cast<unsigned long long>(d.year));
}

// An owner or group column's text: "ftp" with hide_ids, else the name from text_userdb_names;
// none (the number is printed) when the id has no name there.
template <typename Id>
std::optional<std::string_view> IdName(Id id, const std::map<Id, std::string>* names,
                                       const ListFormat& format) {
  if (format.hide_ids) return "ftp";
  if (names == nullptr) return std::nullopt;
  auto it = names->find(id);
  if (it == names->end()) return std::nullopt;
  return it->second;
}

// The column, left-aligned in 8: the name (control bytes as '?') or else the number.
template <typename Id>
char* PutId(char* p, Id id, std::optional<std::string_view> name) {
  char* const start = p;
  if (!name) {
    p = PutNumber(p, static_cast<unsigned long>(id));
    return p - start < 8 ? std::fill_n(p, 8 - (p - start), ' ') : p;
  }
  p = PutLeftAligned(p, *name, 8);
  for (char* c = start; c != p; ++c) {
    unsigned char u = static_cast<unsigned char>(*c);
    if (u < 0x20 || u == 0x7f) *c = '?';
  }
  return p;
}

// The stat the MLSx facts describe: the target's for a symlink whose target could be stat'ed.
const struct stat& FactStat(const ListEntry& entry) {
  if (S_ISLNK(entry.st.st_mode) && entry.target_ok) return entry.target_st;
  return entry.st;
}

}  // namespace

void AppendListLine(const ListEntry& entry, const ListFormat& format, std::string* out) {
  const auto owner = IdName(entry.st.st_uid, format.user_names, format);
  const auto group = IdName(entry.st.st_gid, format.group_names, format);
  const bool link = S_ISLNK(entry.st.st_mode);
  // perms, nlink, owner, group, size, date and the spaces between; the name; " -> " target;
  // CRLF.
  const std::size_t most = 10 + 1 + kMaxDigits + 1 +
                           std::max(owner.value_or("").size(), kMaxDigits) + 1 +
                           std::max(group.value_or("").size(), kMaxDigits) + 1 + kMaxDigits + 1 +
                           kMaxListDate + 1 + entry.name.size() +
                           (link ? 4 + entry.link_target.size() : 0) + 2;
  char* const start = Room(out, most);
  char* p = PutPerms(start, entry.st.st_mode);
  *p++ = ' ';
  p = PutPadded(p, static_cast<unsigned long>(entry.st.st_nlink), 4, 10, ' ');
  *p++ = ' ';
  p = PutId(p, entry.st.st_uid, owner);
  *p++ = ' ';
  p = PutId(p, entry.st.st_gid, group);
  *p++ = ' ';
  p = PutPadded(p, static_cast<unsigned long long>(entry.st.st_size), 8, 10, ' ');
  *p++ = ' ';
  p = PutListDate(p, entry.st.st_mtime, format);
  *p++ = ' ';
  // The part before the name was made with snprintf into 160 bytes, and this keeps its cut:
  // only long owner and group names (text_userdb_names) can reach it.
  if (static_cast<std::size_t>(p - start) > kMaxListPrefix) p = start + kMaxListPrefix;
  p = PutName(p, entry.name);
  if (link) {
    p = PutText(p, " -> ");
    p = PutName(p, entry.link_target);
  }
  p = PutText(p, "\r\n");
  Done(out, p);
}

std::string FormatListLine(const ListEntry& entry, const ListFormat& format) {
  std::string line;
  AppendListLine(entry, format, &line);
  return line;
}

MlstFacts MlstFacts::Parse(std::string_view arg) {
  MlstFacts facts;
  facts.type = facts.size = facts.modify = facts.perm = facts.unix_mode = facts.unique = false;
  for (std::string_view name : Split(arg, ';')) {
    name = TrimSpaces(name);
    if (EqualsIgnoreCase(name, "type")) {
      facts.type = true;
    } else if (EqualsIgnoreCase(name, "size")) {
      facts.size = true;
    } else if (EqualsIgnoreCase(name, "modify")) {
      facts.modify = true;
    } else if (EqualsIgnoreCase(name, "perm")) {
      facts.perm = true;
    } else if (EqualsIgnoreCase(name, "unix.mode")) {
      facts.unix_mode = true;
    } else if (EqualsIgnoreCase(name, "unique")) {
      facts.unique = true;
    }
  }
  return facts;
}

std::string MlstFacts::FeatString() const {
  std::string out;
  auto add = [&out](const char* name, bool on) {
    out += name;
    if (on) out += '*';
    out += ';';
  };
  add("type", type);
  add("size", size);
  add("modify", modify);
  add("perm", perm);
  add("unix.mode", unix_mode);
  add("unique", unique);
  return out;
}

std::string MlstFacts::EnabledString() const {
  std::string out;
  if (type) out += "type;";
  if (size) out += "size;";
  if (modify) out += "modify;";
  if (perm) out += "perm;";
  if (unix_mode) out += "unix.mode;";
  if (unique) out += "unique;";
  return out;
}

namespace {

// The most the facts can take: "type=OS.unix=blockdev;" 22, "size=" 26, "modify=" with a
// year of up to 20 digits and a '-' 39, "perm=el;" 8, "unix.mode=" 15, "unique=" with two
// numbers of 16 hex digits 41.
constexpr std::size_t kMaxFacts = 22 + 26 + 39 + 8 + 15 + 41;

char* PutMlsxFacts(char* p, const ListEntry& entry, const MlstFacts& facts, uid_t uid,
                   gid_t gid) {
  const struct stat& st = FactStat(entry);
  const mode_t mode = st.st_mode;
  if (facts.type) {
    p = PutText(p, "type=");
    if (S_ISREG(mode)) {
      p = PutText(p, "file");
    } else if (S_ISDIR(mode)) {
      p = PutText(p, "dir");
    } else if (S_ISLNK(mode)) {
      p = PutText(p, "OS.unix=symlink");
    } else if (S_ISFIFO(mode)) {
      p = PutText(p, "OS.unix=fifo");
    } else if (S_ISSOCK(mode)) {
      p = PutText(p, "OS.unix=socket");
    } else if (S_ISCHR(mode)) {
      p = PutText(p, "OS.unix=chardev");
    } else if (S_ISBLK(mode)) {
      p = PutText(p, "OS.unix=blockdev");
    } else {
      p = PutText(p, "OS.unix=unknown");
    }
    *p++ = ';';
  }
  if (facts.size) {
    p = PutText(p, "size=");
    p = PutNumber(p, static_cast<unsigned long long>(st.st_size));
    *p++ = ';';
  }
  if (facts.modify) {
    const CalendarTime t = ToCalendarTime(st.st_mtime, false);
    p = PutText(p, "modify=");
    const long long year = t.year;
    if (year < 0) *p++ = '-';
    p = PutPadded(p, year < 0 ? 0ULL - static_cast<unsigned long long>(year)
                              : static_cast<unsigned long long>(year),
                  year < 0 ? 3 : 4);
    for (int part : {t.mon + 1, t.mday, t.hour, t.min, t.sec}) p = PutTwoDigits(p, part);
    *p++ = ';';
  }
  if (facts.perm) {
    mode_t r, x;
    if (st.st_uid == uid) {
      r = S_IRUSR;
      x = S_IXUSR;
    } else if (st.st_gid == gid) {
      r = S_IRGRP;
      x = S_IXGRP;
    } else {
      r = S_IROTH;
      x = S_IXOTH;
    }
    p = PutText(p, "perm=");
    if (S_ISREG(mode)) {
      if (mode & r) *p++ = 'r';
    } else if (S_ISDIR(mode)) {
      if (mode & x) *p++ = 'e';
      if (mode & r) *p++ = 'l';
    }
    *p++ = ';';
  }
  if (facts.unix_mode) {
    p = PutText(p, "unix.mode=");
    p = PutPadded(p, mode & 07777, 4, 8);
    *p++ = ';';
  }
  if (facts.unique) {
    p = PutText(p, "unique=");
    p = PutNumber(p, static_cast<unsigned long long>(st.st_dev), 16);
    *p++ = 'g';
    p = PutNumber(p, static_cast<unsigned long long>(st.st_ino), 16);
    *p++ = ';';
  }
  return p;
}

}  // namespace

std::string FormatMlsxFacts(const ListEntry& entry, const MlstFacts& facts, uid_t uid,
                            gid_t gid) {
  std::string out;
  Done(&out, PutMlsxFacts(Room(&out, kMaxFacts), entry, facts, uid, gid));
  return out;
}

void AppendMlsdLine(const ListEntry& entry, const MlstFacts& facts, uid_t uid, gid_t gid,
                    std::string* out) {
  char* p = PutMlsxFacts(Room(out, kMaxFacts + 1 + entry.name.size() + 2), entry, facts, uid, gid);
  *p++ = ' ';
  p = PutName(p, entry.name);
  Done(out, PutText(p, "\r\n"));
}

std::string FormatMlsdLine(const ListEntry& entry, const MlstFacts& facts, uid_t uid,
                           gid_t gid) {
  std::string line;
  AppendMlsdLine(entry, facts, uid, gid, &line);
  return line;
}

namespace {

// A name in SortedNames' buffer, with its sort key: the first eight bytes after the prefix that
// every name shares, big-endian, zero-padded (no name holds a NUL, so a name that ends sorts
// before any that goes on). Equal keys are rare and fall back to comparing the names.
struct NameRef {
  std::uint64_t key;
  std::uint32_t offset;
  std::uint32_t size;
};

// A directory's names, filtered, in one buffer (each followed by a NUL), sorted in byte order.
// Sorting 20,000 std::strings took as long as reading them from the kernel; these sort in a
// small part of that.
class SortedNames {
 public:
  void Add(std::string_view name) {
    refs_.push_back({0, static_cast<std::uint32_t>(buffer_.size()),
                     static_cast<std::uint32_t>(name.size())});
    buffer_.append(name);
    buffer_.push_back('\0');
  }

  void Sort() {
    if (refs_.empty()) return;
    std::size_t shared = refs_[0].size;
    for (const NameRef& r : refs_) {
      std::string_view first = Name(refs_[0]), name = Name(r);
      std::size_t n = std::min(shared, name.size());
      shared = static_cast<std::size_t>(
          std::mismatch(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(n), first.begin())
              .first - name.begin());
    }
    for (NameRef& r : refs_) {
      std::string_view name = Name(r);
      r.key = 0;
      for (std::size_t i = shared; i < shared + 8; ++i) {
        r.key = (r.key << 8) | (i < name.size() ? static_cast<unsigned char>(name[i]) : 0u);
      }
    }
    SortByKey();
    // Names whose keys tie (they share more than eight bytes past the common prefix) are
    // ordered by the whole name.
    auto by_name = [this](const NameRef& a, const NameRef& b) { return Name(a) < Name(b); };
    for (auto run = refs_.begin(); run != refs_.end();) {
      const std::uint64_t key = run->key;
      auto end = std::find_if(run, refs_.end(), [key](const NameRef& r) { return r.key != key; });
      if (end - run > 1) std::sort(run, end, by_name);
      run = end;
    }
  }

  std::size_t size() const { return refs_.size(); }
  std::string_view Name(std::size_t i) const { return Name(refs_[i]); }
  // NUL-terminated, for the *at() calls.
  const char* CName(std::size_t i) const { return buffer_.data() + refs_[i].offset; }

 private:
  std::string_view Name(const NameRef& r) const {
    return std::string_view(buffer_.data() + r.offset, r.size);
  }

  // A stable radix sort on the keys, a byte at a time from the lowest, skipping the bytes all
  // keys share (most of them, for names that differ in a few characters). The counts of all
  // eight bytes are taken in one pass over the keys (a permutation does not change them).
  void SortByKey() {
    static_assert(kMaxListEntries <= UINT32_MAX);
    std::uint32_t counts[8][256] = {};
    for (const NameRef& r : refs_) {
      for (int byte = 0; byte < 8; ++byte) ++counts[byte][(r.key >> (8 * byte)) & 0xff];
    }
    std::vector<NameRef> sorted;
    for (int byte = 0; byte < 8; ++byte) {
      const int shift = 8 * byte;
      std::uint32_t* start = counts[byte];
      if (start[(refs_[0].key >> shift) & 0xff] == refs_.size()) continue;
      if (sorted.empty()) sorted.resize(refs_.size());
      std::uint32_t pos = 0;
      for (int value = 0; value < 256; ++value) pos += std::exchange(start[value], pos);
      for (const NameRef& r : refs_) sorted[start[(r.key >> shift) & 0xff]++] = r;
      refs_.swap(sorted);
    }
  }

  std::string buffer_;
  std::vector<NameRef> refs_;
};

}  // namespace

Status VisitDirectory(const std::string& path, const ReadDirOptions& options,
                      const std::function<bool(const ListEntry&)>& visit,
                      const std::function<bool()>& ready) {
  UniqueFd opened(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!opened.valid()) return Status::FromErrno(errno, "open directory " + SanitizeForLog(path));
  const int fd = opened.get();
  UniqueDir dir(fdopendir(fd));
  if (dir == nullptr) return Status::FromErrno(errno, "fdopendir " + SanitizeForLog(path));
  opened.Release();  // the stream owns fd now
  // The names first, sorted; then each entry is stat'ed and handed over in order, one at a
  // time in the same ListEntry (holding them all, a few hundred bytes each, cost more page
  // faults than the formatting).
  SortedNames names;
  while (names.size() < kMaxListEntries) {
    errno = 0;
    struct dirent* de = readdir(dir.get());
    if (de == nullptr) {
      if (errno != 0) return Status::FromErrno(errno, "readdir " + SanitizeForLog(path));
      break;
    }
    std::string_view name(de->d_name);
    if (name.empty()) continue;
    if (name == "." || name == "..") {
      if (!options.show_dot_dirs) continue;
    } else if (name.front() == '.' && !options.show_dot_files) {
      continue;
    }
    if (!options.pattern.empty() && !WildcardMatch(options.pattern, name)) continue;
    if (options.hide != nullptr && options.hide->Matches(name)) continue;
    names.Add(name);
  }
  names.Sort();
  ListEntry entry;
  const bool go = !ready || ready();
  for (std::size_t i = 0; go && i < names.size(); ++i) {
    if (!options.names_only) {
      const char* name = names.CName(i);
      if (fstatat(fd, name, &entry.st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
      entry.link_target.clear();
      entry.target_ok = false;
      entry.target_st = {};
      if (S_ISLNK(entry.st.st_mode) && options.read_links) {
        char target[kMaxPathLength + 1];
        ssize_t len = readlinkat(fd, name, target, sizeof(target) - 1);
        if (len >= 0) entry.link_target.assign(target, static_cast<std::size_t>(len));
      }
      if (S_ISLNK(entry.st.st_mode) && options.stat_link_targets) {
        entry.target_ok = fstatat(fd, name, &entry.target_st, 0) == 0;
      }
    }
    entry.name.assign(names.Name(i));
    if (!visit(entry)) break;
  }
  return Status::Ok();
}

Status ReadDirectory(const std::string& path, const ReadDirOptions& options,
                     std::vector<ListEntry>* out) {
  out->clear();
  return VisitDirectory(path, options, [out](const ListEntry& e) {
    out->push_back(e);
    return true;
  });
}

}  // namespace keepftpd
