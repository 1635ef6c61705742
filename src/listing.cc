// Directory listings: reading a directory, LIST lines as vsftpd prints them, NLST and MLSD/MLST
// facts. Used by the session jail after chroot: no NSS lookups, ids are numeric or "ftp".
#include "listing.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "strutil.h"

namespace keepftpd {
namespace {

constexpr time_t kRecentSeconds = 180 * 24 * 60 * 60;

// English regardless of locale, as vsftpd's "C" locale strftime("%b") prints them.
constexpr const char* kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string PermString(mode_t mode) {
  std::string perms(10, '-');
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
  return perms;
}

}  // namespace

std::string ListingName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = '?';
  }
  return out;
}

namespace {

std::string DateString(time_t mtime, const ListFormat& format) {
  struct tm tm = {};
  bool ok = format.use_localtime ? localtime_r(&mtime, &tm) != nullptr
                                 : gmtime_r(&mtime, &tm) != nullptr;
  if (!ok || tm.tm_mon < 0 || tm.tm_mon > 11) {
    tm = {};
    tm.tm_mday = 1;
    tm.tm_year = 70;
  }
  time_t age = 0;
  bool recent = mtime <= format.now && !__builtin_sub_overflow(format.now, mtime, &age) &&
                age <= kRecentSeconds;
  char buf[64];
  if (recent) {
    std::snprintf(buf, sizeof(buf), "%s %02d %02d:%02d", kMonths[tm.tm_mon], tm.tm_mday,
                  tm.tm_hour, tm.tm_min);
  } else {
    std::snprintf(buf, sizeof(buf), "%s %02d  %lld", kMonths[tm.tm_mon], tm.tm_mday,
                  static_cast<long long>(tm.tm_year) + 1900);
  }
  return buf;
}

// The stat the MLSx facts describe: the target's for a symlink whose target could be stat'ed.
const struct stat& FactStat(const ListEntry& entry) {
  if (S_ISLNK(entry.st.st_mode) && entry.target_ok) return entry.target_st;
  return entry.st;
}

}  // namespace

std::string FormatListLine(const ListEntry& entry, const ListFormat& format) {
  std::string owner, group;
  if (format.hide_ids) {
    owner = group = "ftp";
  } else {
    owner = std::to_string(static_cast<unsigned long>(entry.st.st_uid));
    group = std::to_string(static_cast<unsigned long>(entry.st.st_gid));
    if (format.user_names != nullptr) {
      auto it = format.user_names->find(entry.st.st_uid);
      if (it != format.user_names->end()) owner = SanitizeForLog(it->second);
    }
    if (format.group_names != nullptr) {
      auto it = format.group_names->find(entry.st.st_gid);
      if (it != format.group_names->end()) group = SanitizeForLog(it->second);
    }
  }
  std::string perms = PermString(entry.st.st_mode);
  std::string date = DateString(entry.st.st_mtime, format);
  char buf[160];
  int n = std::snprintf(buf, sizeof(buf), "%s %4lu %-8s %-8s %8llu %s ", perms.c_str(),
                        static_cast<unsigned long>(entry.st.st_nlink), owner.c_str(),
                        group.c_str(), static_cast<unsigned long long>(entry.st.st_size),
                        date.c_str());
  std::string line(buf, n > 0 ? std::min<std::size_t>(n, sizeof(buf) - 1) : 0);
  line += ListingName(entry.name);
  if (S_ISLNK(entry.st.st_mode)) {
    line += " -> ";
    line += ListingName(entry.link_target);
  }
  line += "\r\n";
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

// Number formatting for MLSD lines, written straight into the line (std::to_chars, no
// snprintf: a listing of many entries spent most of its formatting time there).
void AppendNumber(std::string* out, unsigned long long value, int base = 10) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, base);
  out->append(buf, ec == std::errc() ? end : buf);
}

void AppendPadded(std::string* out, unsigned long long value, std::size_t width, int base = 10) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, base);
  std::size_t n = ec == std::errc() ? static_cast<std::size_t>(end - buf) : 0;
  if (n < width) out->append(width - n, '0');
  out->append(buf, n);
}

}  // namespace

std::string FormatMlsxFacts(const ListEntry& entry, const MlstFacts& facts, uid_t uid,
                            gid_t gid) {
  const struct stat& st = FactStat(entry);
  const mode_t mode = st.st_mode;
  std::string out;
  out.reserve(128);
  if (facts.type) {
    out += "type=";
    if (S_ISREG(mode)) {
      out += "file";
    } else if (S_ISDIR(mode)) {
      out += "dir";
    } else if (S_ISLNK(mode)) {
      out += "OS.unix=symlink";
    } else if (S_ISFIFO(mode)) {
      out += "OS.unix=fifo";
    } else if (S_ISSOCK(mode)) {
      out += "OS.unix=socket";
    } else if (S_ISCHR(mode)) {
      out += "OS.unix=chardev";
    } else if (S_ISBLK(mode)) {
      out += "OS.unix=blockdev";
    } else {
      out += "OS.unix=unknown";
    }
    out += ';';
  }
  if (facts.size) {
    out += "size=";
    AppendNumber(&out, static_cast<unsigned long long>(st.st_size));
    out += ';';
  }
  if (facts.modify) {
    struct tm tm = {};
    time_t mtime = st.st_mtime;
    if (gmtime_r(&mtime, &tm) == nullptr) {
      tm = {};
      tm.tm_mday = 1;
      tm.tm_year = 70;
    }
    out += "modify=";
    const long long year = static_cast<long long>(tm.tm_year) + 1900;
    if (year < 0) out += '-';
    AppendPadded(&out, static_cast<unsigned long long>(year < 0 ? -year : year), year < 0 ? 3 : 4);
    for (int part : {tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec}) {
      AppendPadded(&out, static_cast<unsigned long long>(part), 2);
    }
    out += ';';
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
    out += "perm=";
    if (S_ISREG(mode)) {
      if (mode & r) out += 'r';
    } else if (S_ISDIR(mode)) {
      if (mode & x) out += 'e';
      if (mode & r) out += 'l';
    }
    out += ';';
  }
  if (facts.unix_mode) {
    out += "unix.mode=";
    AppendPadded(&out, mode & 07777, 4, 8);
    out += ';';
  }
  if (facts.unique) {
    out += "unique=";
    AppendNumber(&out, static_cast<unsigned long long>(st.st_dev), 16);
    out += 'g';
    AppendNumber(&out, static_cast<unsigned long long>(st.st_ino), 16);
    out += ';';
  }
  return out;
}

std::string FormatMlsdLine(const ListEntry& entry, const MlstFacts& facts, uid_t uid,
                           gid_t gid) {
  std::string line = FormatMlsxFacts(entry, facts, uid, gid);
  line += ' ';
  line += ListingName(entry.name);
  line += "\r\n";
  return line;
}

Status ReadDirectory(const std::string& path, const ReadDirOptions& options,
                     std::vector<ListEntry>* out) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open directory " + SanitizeForLog(path));
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    close(fd);
    return Status::FromErrno(err, "fdopendir " + SanitizeForLog(path));
  }
  // The names first, sorted; then one entry each, in order, into a vector of the right size
  // (a ListEntry is a few hundred bytes: growing and sorting a vector of them cost more than
  // reading the directory).
  std::vector<std::string> names;
  Status status;
  while (names.size() < kMaxListEntries) {
    errno = 0;
    struct dirent* de = readdir(dir);
    if (de == nullptr) {
      if (errno != 0) status = Status::FromErrno(errno, "readdir " + SanitizeForLog(path));
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
    names.emplace_back(name);
  }
  if (!status.ok()) {
    closedir(dir);
    return status;
  }
  std::sort(names.begin(), names.end());
  out->reserve(names.size());
  for (std::string& name : names) {
    ListEntry entry;
    if (!options.names_only) {
      if (fstatat(fd, name.c_str(), &entry.st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
      if (S_ISLNK(entry.st.st_mode)) {
        char target[kMaxPathLength + 1];
        ssize_t len = readlinkat(fd, name.c_str(), target, sizeof(target) - 1);
        if (len >= 0) entry.link_target.assign(target, static_cast<std::size_t>(len));
        entry.target_ok = fstatat(fd, name.c_str(), &entry.target_st, 0) == 0;
      }
    }
    entry.name = std::move(name);
    out->push_back(std::move(entry));
  }
  closedir(dir);  // also closes fd
  return Status::Ok();
}

}  // namespace keepftpd
