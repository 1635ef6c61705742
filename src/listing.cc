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
#include <functional>
#include <utility>

#include "strutil.h"

namespace keepftpd {
namespace {

constexpr time_t kRecentSeconds = 180 * 24 * 60 * 60;

// A LIST line's part before the name is cut at this many bytes (see AppendListLine).
constexpr std::size_t kMaxListPrefix = 159;

// English regardless of locale, as vsftpd's "C" locale strftime("%b") prints them.
constexpr const char* kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Number formatting written straight into the line (std::to_chars, no snprintf: a listing of
// many entries spent most of its formatting time there).
void AppendNumber(std::string* out, unsigned long long value, int base = 10) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, base);
  out->append(buf, ec == std::errc() ? end : buf);
}

// value right-aligned in width, padded with fill (printf's "%0*llu" or "%*llu").
void AppendPadded(std::string* out, unsigned long long value, std::size_t width, int base = 10,
                  char fill = '0') {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, base);
  std::size_t n = ec == std::errc() ? static_cast<std::size_t>(end - buf) : 0;
  if (n < width) out->append(width - n, fill);
  out->append(buf, n);
}

// A value from 0 to 99 as two digits (dates' fields).
void AppendTwoDigits(std::string* out, int value) {
  const char digits[2] = {static_cast<char>('0' + value / 10 % 10),
                          static_cast<char>('0' + value % 10)};
  out->append(digits, 2);
}

// text left-aligned in width, padded with spaces (printf's "%-*s"; longer text is not cut).
void AppendLeftAligned(std::string* out, std::string_view text, std::size_t width) {
  out->append(text);
  if (text.size() < width) out->append(width - text.size(), ' ');
}

// "drwxr-xr-x": the type letter, then the permission bits as ls prints them.
void AppendPerms(mode_t mode, std::string* out) {
  char perms[10];
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
  out->append(perms, 10);
}

}  // namespace

void AppendListingName(std::string_view name, std::string* out) {
  std::size_t start = out->size();
  out->append(name);
  for (auto it = out->begin() + static_cast<std::ptrdiff_t>(start); it != out->end(); ++it) {
    if (*it == '\r' || *it == '\n') *it = '?';
  }
}

std::string ListingName(std::string_view name) {
  std::string out;
  AppendListingName(name, &out);
  return out;
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

// "Nov 22 07:40" when recent, "Nov 22  2026" otherwise (strftime's "%b %d %H:%M" and
// "%b %d  %Y", the year unpadded and possibly negative).
void AppendListDate(time_t mtime, const ListFormat& format, std::string* out) {
  const CalendarTime d = ToCalendarTime(mtime, format.use_localtime);
  time_t age = 0;
  bool recent = mtime <= format.now && !__builtin_sub_overflow(format.now, mtime, &age) &&
                age <= kRecentSeconds;
  out->append(kMonths[d.mon], 3);
  out->push_back(' ');
  AppendTwoDigits(out, d.mday);
  out->push_back(' ');
  if (recent) {
    AppendTwoDigits(out, d.hour);
    out->push_back(':');
    AppendTwoDigits(out, d.min);
  } else {
    out->push_back(' ');
    if (d.year < 0) out->push_back('-');
    AppendNumber(out, d.year < 0 ? 0ULL - static_cast<unsigned long long>(d.year)
                                 : static_cast<unsigned long long>(d.year));
  }
}

// An owner or group column: "ftp" with hide_ids, the name from text_userdb_names (control
// bytes as '?'), else the number; left-aligned in 8.
template <typename Id>
void AppendId(Id id, const std::map<Id, std::string>* names, const ListFormat& format,
              std::string* out) {
  if (format.hide_ids) return AppendLeftAligned(out, "ftp", 8);
  if (names != nullptr) {
    auto it = names->find(id);
    if (it != names->end()) {
      std::size_t start = out->size();
      AppendLeftAligned(out, it->second, 8);
      for (auto c = out->begin() + static_cast<std::ptrdiff_t>(start); c != out->end(); ++c) {
        unsigned char u = static_cast<unsigned char>(*c);
        if (u < 0x20 || u == 0x7f) *c = '?';
      }
      return;
    }
  }
  std::size_t start = out->size();
  AppendNumber(out, static_cast<unsigned long>(id));
  if (out->size() - start < 8) out->append(8 - (out->size() - start), ' ');
}

// The stat the MLSx facts describe: the target's for a symlink whose target could be stat'ed.
const struct stat& FactStat(const ListEntry& entry) {
  if (S_ISLNK(entry.st.st_mode) && entry.target_ok) return entry.target_st;
  return entry.st;
}

}  // namespace

void AppendListLine(const ListEntry& entry, const ListFormat& format, std::string* out) {
  const std::size_t start = out->size();
  AppendPerms(entry.st.st_mode, out);
  out->push_back(' ');
  AppendPadded(out, static_cast<unsigned long>(entry.st.st_nlink), 4, 10, ' ');
  out->push_back(' ');
  AppendId(entry.st.st_uid, format.user_names, format, out);
  out->push_back(' ');
  AppendId(entry.st.st_gid, format.group_names, format, out);
  out->push_back(' ');
  AppendPadded(out, static_cast<unsigned long long>(entry.st.st_size), 8, 10, ' ');
  out->push_back(' ');
  AppendListDate(entry.st.st_mtime, format, out);
  out->push_back(' ');
  // The part before the name was made with snprintf into 160 bytes, and this keeps its cut:
  // only long owner and group names (text_userdb_names) can reach it.
  if (out->size() - start > kMaxListPrefix) out->resize(start + kMaxListPrefix);
  AppendListingName(entry.name, out);
  if (S_ISLNK(entry.st.st_mode)) {
    out->append(" -> ");
    AppendListingName(entry.link_target, out);
  }
  out->append("\r\n");
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

void AppendMlsxFacts(const ListEntry& entry, const MlstFacts& facts, uid_t uid, gid_t gid,
                     std::string* out) {
  const struct stat& st = FactStat(entry);
  const mode_t mode = st.st_mode;
  if (facts.type) {
    *out += "type=";
    if (S_ISREG(mode)) {
      *out += "file";
    } else if (S_ISDIR(mode)) {
      *out += "dir";
    } else if (S_ISLNK(mode)) {
      *out += "OS.unix=symlink";
    } else if (S_ISFIFO(mode)) {
      *out += "OS.unix=fifo";
    } else if (S_ISSOCK(mode)) {
      *out += "OS.unix=socket";
    } else if (S_ISCHR(mode)) {
      *out += "OS.unix=chardev";
    } else if (S_ISBLK(mode)) {
      *out += "OS.unix=blockdev";
    } else {
      *out += "OS.unix=unknown";
    }
    *out += ';';
  }
  if (facts.size) {
    *out += "size=";
    AppendNumber(out, static_cast<unsigned long long>(st.st_size));
    *out += ';';
  }
  if (facts.modify) {
    const CalendarTime t = ToCalendarTime(st.st_mtime, false);
    *out += "modify=";
    const long long year = t.year;
    if (year < 0) *out += '-';
    AppendPadded(out, static_cast<unsigned long long>(year < 0 ? -year : year), year < 0 ? 3 : 4);
    for (int part : {t.mon + 1, t.mday, t.hour, t.min, t.sec}) AppendTwoDigits(out, part);
    *out += ';';
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
    *out += "perm=";
    if (S_ISREG(mode)) {
      if (mode & r) *out += 'r';
    } else if (S_ISDIR(mode)) {
      if (mode & x) *out += 'e';
      if (mode & r) *out += 'l';
    }
    *out += ';';
  }
  if (facts.unix_mode) {
    *out += "unix.mode=";
    AppendPadded(out, mode & 07777, 4, 8);
    *out += ';';
  }
  if (facts.unique) {
    *out += "unique=";
    AppendNumber(out, static_cast<unsigned long long>(st.st_dev), 16);
    *out += 'g';
    AppendNumber(out, static_cast<unsigned long long>(st.st_ino), 16);
    *out += ';';
  }
}

}  // namespace

std::string FormatMlsxFacts(const ListEntry& entry, const MlstFacts& facts, uid_t uid,
                            gid_t gid) {
  std::string out;
  AppendMlsxFacts(entry, facts, uid, gid, &out);
  return out;
}

void AppendMlsdLine(const ListEntry& entry, const MlstFacts& facts, uid_t uid, gid_t gid,
                    std::string* out) {
  AppendMlsxFacts(entry, facts, uid, gid, out);
  out->push_back(' ');
  AppendListingName(entry.name, out);
  out->append("\r\n");
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
  // keys share (most of them, for names that differ in a few characters).
  void SortByKey() {
    std::vector<NameRef> sorted(refs_.size());
    for (int shift = 0; shift < 64; shift += 8) {
      std::size_t start[256] = {};
      for (const NameRef& r : refs_) ++start[(r.key >> shift) & 0xff];
      if (start[(refs_[0].key >> shift) & 0xff] == refs_.size()) continue;
      std::size_t pos = 0;
      for (std::size_t& n : start) pos += std::exchange(n, pos);
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
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open directory " + SanitizeForLog(path));
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    close(fd);
    return Status::FromErrno(err, "fdopendir " + SanitizeForLog(path));
  }
  // The names first, sorted; then each entry is stat'ed and handed over in order, one at a
  // time in the same ListEntry (holding them all, a few hundred bytes each, cost more page
  // faults than the formatting).
  SortedNames names;
  while (names.size() < kMaxListEntries) {
    errno = 0;
    struct dirent* de = readdir(dir);
    if (de == nullptr) {
      if (errno != 0) {
        Status status = Status::FromErrno(errno, "readdir " + SanitizeForLog(path));
        closedir(dir);
        return status;
      }
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
      if (S_ISLNK(entry.st.st_mode)) {
        char target[kMaxPathLength + 1];
        ssize_t len = readlinkat(fd, name, target, sizeof(target) - 1);
        if (len >= 0) entry.link_target.assign(target, static_cast<std::size_t>(len));
        entry.target_ok = fstatat(fd, name, &entry.target_st, 0) == 0;
      }
    }
    entry.name.assign(names.Name(i));
    if (!visit(entry)) break;
  }
  closedir(dir);  // also closes fd
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
