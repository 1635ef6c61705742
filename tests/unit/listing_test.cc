// Tests for src/jail/listing.cc: LIST lines byte for byte as vsftpd prints them, MLSx facts, and
// reading a real directory under /tmp.
#include "listing.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

namespace keepftpd {
namespace {

// A UTC calendar time as time_t.
time_t Utc(int year, int mon, int mday, int hour, int min, int sec) {
  struct tm tm = {};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = mday;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return timegm(&tm);
}

constexpr time_t kDay = 24 * 60 * 60;

ListEntry MakeEntry(std::string name, mode_t mode, nlink_t nlink, uid_t uid, gid_t gid,
                    off_t size, time_t mtime) {
  ListEntry e;
  e.name = std::move(name);
  e.st.st_mode = mode;
  e.st.st_nlink = nlink;
  e.st.st_uid = uid;
  e.st.st_gid = gid;
  e.st.st_size = size;
  e.st.st_mtime = mtime;
  return e;
}

ListFormat FormatAt(time_t now) {
  ListFormat f;
  f.now = now;
  return f;
}

const time_t kNow = Utc(2026, 11, 25, 12, 0, 0);

TEST_CASE("FormatListLine prints a recent directory like vsftpd") {
  ListEntry e = MakeEntry("pub", S_IFDIR | 0755, 2, 0, 0, 4096, Utc(2026, 11, 22, 7, 40, 6));
  CHECK(FormatListLine(e, FormatAt(kNow)) ==
        "drwxr-xr-x    2 0        0            4096 Nov 22 07:40 pub\r\n");
}

TEST_CASE("FormatListLine prints an old file with the year") {
  ListEntry e = MakeEntry("hello.txt", S_IFREG | 0644, 1, 0, 0, 21, Utc(2020, 1, 1, 10, 0, 0));
  CHECK(FormatListLine(e, FormatAt(kNow)) ==
        "-rw-r--r--    1 0        0              21 Jan 01  2020 hello.txt\r\n");
}

TEST_CASE("FormatListLine uses the time for files up to 180 days old") {
  time_t mtime = kNow - 180 * kDay;  // 2026-05-29 12:00
  ListEntry e = MakeEntry("f", S_IFREG | 0644, 1, 1000, 1000, 5, mtime);
  CHECK(FormatListLine(e, FormatAt(kNow)) ==
        "-rw-r--r--    1 1000     1000            5 May 29 12:00 f\r\n");
  e.st.st_mtime = mtime - 1;
  CHECK(FormatListLine(e, FormatAt(kNow)) ==
        "-rw-r--r--    1 1000     1000            5 May 29  2026 f\r\n");
  e.st.st_mtime = kNow;
  CHECK(FormatListLine(e, FormatAt(kNow)) ==
        "-rw-r--r--    1 1000     1000            5 Nov 25 12:00 f\r\n");
}

TEST_CASE("FormatListLine prints the year for files dated in the future") {
  ListEntry e = MakeEntry("f", S_IFREG | 0644, 1, 0, 0, 0, kNow + 2 * 60 * 60);
  CHECK(FormatListLine(e, FormatAt(kNow)) ==
        "-rw-r--r--    1 0        0               0 Nov 25  2026 f\r\n");
  e.st.st_mtime = Utc(2031, 3, 4, 5, 6, 7);
  CHECK(FormatListLine(e, FormatAt(kNow)) ==
        "-rw-r--r--    1 0        0               0 Mar 04  2031 f\r\n");
}

TEST_CASE("FormatListLine shows symlink targets") {
  ListEntry e = MakeEntry("latest", S_IFLNK | 0777, 1, 1000, 100, 9, Utc(2026, 10, 1, 8, 5, 0));
  e.link_target = "pub/2026";
  CHECK(FormatListLine(e, FormatAt(kNow)) ==
        "lrwxrwxrwx    1 1000     100             9 Oct 01 08:05 latest -> pub/2026\r\n");
}

TEST_CASE("FormatListLine prints 'ftp' for owner and group with hide_ids") {
  ListEntry e = MakeEntry("pub", S_IFDIR | 0755, 2, 1000, 1000, 4096, Utc(2026, 11, 22, 7, 40, 6));
  ListFormat f = FormatAt(kNow);
  f.hide_ids = true;
  CHECK(FormatListLine(e, f) == "drwxr-xr-x    2 ftp      ftp          4096 Nov 22 07:40 pub\r\n");
}

TEST_CASE("FormatListLine prints text_userdb_names' names, even an empty one, and numbers for "
          "ids without a name") {
  ListEntry e = MakeEntry("f", S_IFREG | 0644, 1, 1000, 7, 3, Utc(2026, 11, 22, 7, 40, 6));
  const std::map<uid_t, std::string> users = {{1000, "alice"}};
  const std::map<gid_t, std::string> groups = {{7, ""}};
  ListFormat f = FormatAt(kNow);
  f.user_names = &users;
  f.group_names = &groups;
  // The group column: eight spaces.
  CHECK(FormatListLine(e, f) ==
        "-rw-r--r--    1 alice    " "        " "        3 Nov 22 07:40 f\r\n");
  e.st.st_gid = 8;
  CHECK(FormatListLine(e, f) == "-rw-r--r--    1 alice    8               3 Nov 22 07:40 f\r\n");
}

TEST_CASE("FormatListLine does not truncate wide fields") {
  ListEntry e = MakeEntry("big", S_IFREG | 0600, 12345, 4294967294u, 123456789,
                          12345678901LL, Utc(2019, 12, 31, 23, 59, 59));
  CHECK(FormatListLine(e, FormatAt(kNow)) ==
        "-rw------- 12345 4294967294 123456789 12345678901 Dec 31  2019 big\r\n");
}

TEST_CASE("FormatListLine prints setuid, setgid and sticky bits as ls does") {
  auto perms = [](mode_t mode) {
    ListEntry e = MakeEntry("x", mode, 1, 0, 0, 0, 0);
    return FormatListLine(e, FormatAt(kNow)).substr(0, 10);
  };
  CHECK(perms(S_IFREG | 04755) == "-rwsr-xr-x");
  CHECK(perms(S_IFREG | 04644) == "-rwSr--r--");
  CHECK(perms(S_IFREG | 02755) == "-rwxr-sr-x");
  CHECK(perms(S_IFREG | 02745) == "-rwxr-Sr-x");
  CHECK(perms(S_IFDIR | 01777) == "drwxrwxrwt");
  CHECK(perms(S_IFDIR | 01770) == "drwxrwx--T");
  CHECK(perms(S_IFREG | 07777) == "-rwsrwsrwt");
  CHECK(perms(S_IFREG | 0) == "----------");
}

TEST_CASE("FormatListLine prints the type letter of every file type") {
  auto type = [](mode_t mode) {
    ListEntry e = MakeEntry("x", mode | 0644, 1, 0, 0, 0, 0);
    return FormatListLine(e, FormatAt(kNow))[0];
  };
  CHECK(type(S_IFREG) == '-');
  CHECK(type(S_IFDIR) == 'd');
  CHECK(type(S_IFLNK) == 'l');
  CHECK(type(S_IFCHR) == 'c');
  CHECK(type(S_IFBLK) == 'b');
  CHECK(type(S_IFIFO) == 'p');
  CHECK(type(S_IFSOCK) == 's');
}

TEST_CASE("FormatListLine uses the local time zone with use_localtime") {
  const char* old_tz = getenv("TZ");
  std::string saved = old_tz ? old_tz : "";
  setenv("TZ", "EST5", 1);
  tzset();
  ListEntry e = MakeEntry("pub", S_IFDIR | 0755, 2, 0, 0, 4096, Utc(2026, 11, 22, 7, 40, 6));
  ListFormat f = FormatAt(kNow);
  f.use_localtime = true;
  CHECK(FormatListLine(e, f) == "drwxr-xr-x    2 0        0            4096 Nov 22 02:40 pub\r\n");
  if (old_tz) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
}

TEST_CASE("MlstFacts::Parse selects facts case-insensitively and ignores unknown ones") {
  MlstFacts f = MlstFacts::Parse("type;size;");
  CHECK(f.EnabledString() == "type;size;");
  CHECK(MlstFacts::Parse("UNIX.MODE;Type;bogus;unique").EnabledString() ==
        "type;unix.mode;unique;");
  CHECK(MlstFacts::Parse("").EnabledString() == "");
  CHECK(MlstFacts::Parse("nothing;known").EnabledString() == "");
  CHECK(MlstFacts::Parse("modify;perm;").FeatString() ==
        "type;size;modify*;perm*;unix.mode;unique;");
}

TEST_CASE("MlstFacts defaults enable every fact") {
  MlstFacts f;
  CHECK(f.FeatString() == "type*;size*;modify*;perm*;unix.mode*;unique*;");
  CHECK(f.EnabledString() == "type;size;modify;perm;unix.mode;unique;");
}

TEST_CASE("FormatMlsxFacts describes a regular file") {
  ListEntry e = MakeEntry("a.txt", S_IFREG | 0644, 1, 1000, 1000, 6, Utc(2026, 11, 22, 7, 40, 6));
  e.st.st_dev = 0x803;
  e.st.st_ino = 0x2a;
  CHECK(FormatMlsxFacts(e, MlstFacts(), 1000, 1000) ==
        "type=file;size=6;modify=20261122074006;perm=r;unix.mode=0644;unique=803g2a;");
  CHECK(FormatMlsdLine(e, MlstFacts(), 1000, 1000) ==
        "type=file;size=6;modify=20261122074006;perm=r;unix.mode=0644;unique=803g2a; a.txt\r\n");
  CHECK(FormatMlsxFacts(e, MlstFacts::Parse("size;type"), 1000, 1000) == "type=file;size=6;");
  CHECK(FormatMlsdLine(e, MlstFacts::Parse(""), 1000, 1000) == " a.txt\r\n");
}

TEST_CASE("FormatMlsxFacts computes perm from owner, group or other bits") {
  MlstFacts perm_only = MlstFacts::Parse("perm");
  ListEntry file = MakeEntry("f", S_IFREG | 0640, 1, 1000, 100, 0, 0);
  CHECK(FormatMlsxFacts(file, perm_only, 1000, 5) == "perm=r;");
  CHECK(FormatMlsxFacts(file, perm_only, 2000, 100) == "perm=r;");
  CHECK(FormatMlsxFacts(file, perm_only, 2000, 5) == "perm=;");
  ListEntry wo = MakeEntry("f", S_IFREG | 0066, 1, 1000, 100, 0, 0);
  CHECK(FormatMlsxFacts(wo, perm_only, 1000, 100) == "perm=;");  // owner bits win

  ListEntry dir = MakeEntry("d", S_IFDIR | 0751, 2, 1000, 100, 4096, 0);
  CHECK(FormatMlsxFacts(dir, perm_only, 1000, 100) == "perm=el;");
  CHECK(FormatMlsxFacts(dir, perm_only, 2000, 100) == "perm=el;");
  CHECK(FormatMlsxFacts(dir, perm_only, 2000, 5) == "perm=e;");
  ListEntry ronly = MakeEntry("d", S_IFDIR | 0444, 2, 1000, 100, 4096, 0);
  CHECK(FormatMlsxFacts(ronly, perm_only, 1000, 100) == "perm=l;");
}

TEST_CASE("FormatMlsxFacts describes a directory") {
  ListEntry e = MakeEntry("pub", S_IFDIR | 01777, 3, 0, 0, 4096, Utc(2000, 2, 29, 23, 5, 9));
  e.st.st_dev = 0xfd01;
  e.st.st_ino = 0xabcdef;
  CHECK(FormatMlsxFacts(e, MlstFacts(), 1000, 1000) ==
        "type=dir;size=4096;modify=20000229230509;perm=el;unix.mode=1777;unique=fd01gabcdef;");
}

TEST_CASE("FormatMlsxFacts follows symlinks whose target could be stat'ed") {
  ListEntry e = MakeEntry("link", S_IFLNK | 0777, 1, 0, 0, 3, Utc(2026, 1, 1, 0, 0, 0));
  e.link_target = "pub";
  e.target_ok = true;
  e.target_st.st_mode = S_IFDIR | 0755;
  e.target_st.st_size = 4096;
  e.target_st.st_mtime = Utc(2025, 6, 7, 8, 9, 10);
  e.target_st.st_dev = 1;
  e.target_st.st_ino = 2;
  CHECK(FormatMlsxFacts(e, MlstFacts(), 1000, 1000) ==
        "type=dir;size=4096;modify=20250607080910;perm=el;unix.mode=0755;unique=1g2;");

  e.target_ok = false;
  e.st.st_dev = 3;
  e.st.st_ino = 4;
  CHECK(FormatMlsxFacts(e, MlstFacts::Parse("type;size;modify;unix.mode;unique"), 1000, 1000) ==
        "type=OS.unix=symlink;size=3;modify=20260101000000;unix.mode=0777;unique=3g4;");
}

TEST_CASE("FormatMlsxFacts names special file types") {
  MlstFacts type_only = MlstFacts::Parse("type");
  auto type = [&](mode_t mode) {
    return FormatMlsxFacts(MakeEntry("x", mode | 0644, 1, 0, 0, 0, 0), type_only, 0, 0);
  };
  CHECK(type(S_IFIFO) == "type=OS.unix=fifo;");
  CHECK(type(S_IFSOCK) == "type=OS.unix=socket;");
  CHECK(type(S_IFCHR) == "type=OS.unix=chardev;");
  CHECK(type(S_IFBLK) == "type=OS.unix=blockdev;");
}

// A scratch directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/keepftpd_listing_test.XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    for (const std::string& name : created_) unlink((path_ + "/" + name).c_str());
    for (const std::string& name : dirs_) rmdir((path_ + "/" + name).c_str());
    if (!path_.empty()) rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  bool File(const std::string& name, std::string_view content) {
    int fd = open((path_ + "/" + name).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    created_.push_back(name);
    bool ok = write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    return close(fd) == 0 && ok;
  }
  bool Dir(const std::string& name) {
    if (mkdir((path_ + "/" + name).c_str(), 0755) != 0) return false;
    dirs_.push_back(name);
    return true;
  }
  bool Symlink(const std::string& target, const std::string& name) {
    if (symlink(target.c_str(), (path_ + "/" + name).c_str()) != 0) return false;
    created_.push_back(name);
    return true;
  }

 private:
  std::string path_;
  std::vector<std::string> created_;
  std::vector<std::string> dirs_;
};

std::vector<std::string> Names(const std::vector<ListEntry>& entries) {
  std::vector<std::string> names;
  for (const ListEntry& e : entries) names.push_back(e.name);
  return names;
}

using NameList = std::vector<std::string>;

TEST_CASE("ReadDirectory lists, filters and sorts a real directory") {
  TempDir tmp;
  CHECK_FALSE(tmp.path().empty());
  if (tmp.path().empty()) return;
  CHECK(tmp.File("b.txt", "bb"));
  CHECK(tmp.File("a.txt", "hello!"));
  CHECK(tmp.File("Z.txt", ""));
  CHECK(tmp.File(".hidden", "h"));
  CHECK(tmp.File("x.bak", ""));
  CHECK(tmp.File("\xc3\xa9t\xc3\xa9", ""));  // UTF-8 sorts after ASCII in byte order
  CHECK(tmp.Dir("sub"));
  CHECK(tmp.Symlink("a.txt", "link"));
  CHECK(tmp.Symlink("does-not-exist", "broken"));

  std::vector<ListEntry> entries;
  ReadDirOptions opts;
  CHECK(ReadDirectory(tmp.path(), opts, &entries).ok());
  CHECK(Names(entries) == NameList{"Z.txt", "a.txt", "b.txt", "broken", "link", "sub", "x.bak",
                                  "\xc3\xa9t\xc3\xa9"});
  if (entries.size() == 8) {
    CHECK(S_ISREG(entries[1].st.st_mode));
    CHECK(entries[1].st.st_size == 6);
    CHECK(entries[1].link_target.empty());
    CHECK(S_ISLNK(entries[3].st.st_mode));
    CHECK(entries[3].link_target == "does-not-exist");
    CHECK_FALSE(entries[3].target_ok);
    CHECK(S_ISLNK(entries[4].st.st_mode));
    CHECK(entries[4].link_target == "a.txt");
    CHECK(entries[4].target_ok);
    CHECK(S_ISREG(entries[4].target_st.st_mode));
    CHECK(entries[4].target_st.st_ino == entries[1].st.st_ino);
    CHECK(S_ISDIR(entries[5].st.st_mode));
  }

  opts.show_dot_files = true;
  CHECK(ReadDirectory(tmp.path(), opts, &entries).ok());
  CHECK(Names(entries) == NameList{".hidden", "Z.txt", "a.txt", "b.txt", "broken", "link", "sub",
                                  "x.bak", "\xc3\xa9t\xc3\xa9"});

  opts.show_dot_dirs = true;
  CHECK(ReadDirectory(tmp.path(), opts, &entries).ok());
  CHECK(Names(entries).size() == 11);
  CHECK(Names(entries)[0] == ".");
  CHECK(Names(entries)[1] == "..");
  CHECK(Names(entries)[2] == ".hidden");

  opts.show_dot_files = false;
  CHECK(ReadDirectory(tmp.path(), opts, &entries).ok());
  CHECK(Names(entries).size() == 10);
  CHECK(Names(entries)[2] == "Z.txt");
}

TEST_CASE("ReadDirectory with names_only (NLST) gives the same names and stats nothing") {
  TempDir tmp;
  CHECK_FALSE(tmp.path().empty());
  if (tmp.path().empty()) return;
  CHECK(tmp.File("b.txt", "bb"));
  CHECK(tmp.File(".hidden", "h"));
  CHECK(tmp.Dir("sub"));
  CHECK(tmp.Symlink("b.txt", "link"));
  ReadDirOptions opts;
  std::vector<ListEntry> full, names;
  CHECK(ReadDirectory(tmp.path(), opts, &full).ok());
  opts.names_only = true;
  CHECK(ReadDirectory(tmp.path(), opts, &names).ok());
  CHECK(Names(names) == Names(full));
  CHECK(Names(names) == NameList{"b.txt", "link", "sub"});
  for (const ListEntry& e : names) {
    CHECK(e.st.st_mode == 0);
    CHECK(e.link_target.empty());
  }
}

TEST_CASE("ReadDirectory applies a wildcard pattern and a hide filter") {
  TempDir tmp;
  CHECK_FALSE(tmp.path().empty());
  if (tmp.path().empty()) return;
  CHECK(tmp.File("b.txt", ""));
  CHECK(tmp.File("a.txt", ""));
  CHECK(tmp.File(".secret.txt", ""));
  CHECK(tmp.File("x.bak", ""));
  CHECK(tmp.File("song.mp3", ""));
  CHECK(tmp.Dir("private"));

  std::vector<ListEntry> entries;
  ReadDirOptions opts;
  opts.pattern = "*.txt";
  CHECK(ReadDirectory(tmp.path(), opts, &entries).ok());
  CHECK(Names(entries) == NameList{"a.txt", "b.txt"});

  opts.show_dot_files = true;
  CHECK(ReadDirectory(tmp.path(), opts, &entries).ok());
  CHECK(Names(entries) == NameList{".secret.txt", "a.txt", "b.txt"});

  Result<NameFilter> hide = NameFilter::Parse("{*.mp3,private,b.*}");
  CHECK(hide.ok());
  if (!hide.ok()) return;
  ReadDirOptions hopts;
  hopts.hide = &hide.value();
  CHECK(ReadDirectory(tmp.path(), hopts, &entries).ok());
  CHECK(Names(entries) == NameList{"a.txt", "x.bak"});

  hopts.pattern = "?.*";
  CHECK(ReadDirectory(tmp.path(), hopts, &entries).ok());
  CHECK(Names(entries) == NameList{"a.txt", "x.bak"});
  hopts.pattern = "nothing*";
  CHECK(ReadDirectory(tmp.path(), hopts, &entries).ok());
  CHECK(entries.empty());
}

TEST_CASE("ReadDirectory sorts in byte order names that share a long prefix or end early") {
  // The sort compares eight bytes after the prefix every name shares, then whole names.
  TempDir tmp;
  CHECK_FALSE(tmp.path().empty());
  if (tmp.path().empty()) return;
  const NameList names = {"entry-00000000",  "entry-000000000", "entry-00000000a", "entry-0000000",
                          "entry-00000000\xff", "entry-00000001", "entry-0000000\x01", "entry-"};
  for (const std::string& name : names) CHECK(tmp.File(name, ""));
  std::vector<ListEntry> entries;
  CHECK(ReadDirectory(tmp.path(), ReadDirOptions(), &entries).ok());
  CHECK(Names(entries) == NameList{"entry-", "entry-0000000", "entry-0000000\x01",
                                  "entry-00000000", "entry-000000000", "entry-00000000a",
                                  "entry-00000000\xff", "entry-00000001"});
}

TEST_CASE("VisitDirectory hands over each entry in order, stat'ed, and reports a missing "
          "directory before any") {
  TempDir tmp;
  CHECK_FALSE(tmp.path().empty());
  if (tmp.path().empty()) return;
  CHECK(tmp.Symlink("b.txt", "0-link"));
  CHECK(tmp.File("b.txt", "bb"));
  CHECK(tmp.File("a.txt", "a"));
  std::vector<std::string> seen;
  CHECK(VisitDirectory(tmp.path(), ReadDirOptions(), [&seen](const ListEntry& e) {
          seen.push_back(e.name + ":" + std::to_string(e.st.st_size) + ":" + e.link_target +
                         (e.target_ok ? ":ok" : ""));
          return true;
        }).ok());
  // The link's own size is its target's length; the files after it have no target left over.
  CHECK(seen == NameList{"0-link:5:b.txt:ok", "a.txt:1:", "b.txt:2:"});
  bool called = false;
  CHECK_FALSE(VisitDirectory(tmp.path() + "/missing", ReadDirOptions(),
                             [&called](const ListEntry&) { return called = true; },
                             [&called] { return called = true; })
                  .ok());
  CHECK_FALSE(called);
}

TEST_CASE("VisitDirectory reads a link's target and stats it only when asked") {
  TempDir tmp;
  CHECK_FALSE(tmp.path().empty());
  if (tmp.path().empty()) return;
  CHECK(tmp.File("file", "12345"));
  CHECK(tmp.Symlink("file", "link"));
  auto seen = [&tmp](bool read_links, bool stat_targets) {
    ReadDirOptions options;
    options.read_links = read_links;
    options.stat_link_targets = stat_targets;
    std::string out;
    CHECK(VisitDirectory(tmp.path(), options, [&out](const ListEntry& e) {
            if (e.name == "link") {
              out = e.link_target + (e.target_ok ? ":" + std::to_string(e.target_st.st_size) : "");
            }
            return true;
          }).ok());
    return out;
  };
  CHECK(seen(true, true) == "file:5");
  CHECK(seen(true, false) == "file");
  CHECK(seen(false, true) == ":5");
  CHECK(seen(false, false).empty());
}

TEST_CASE("VisitDirectory calls ready once before the first entry, and stops where ready or "
          "visit says so") {
  TempDir tmp;
  CHECK_FALSE(tmp.path().empty());
  if (tmp.path().empty()) return;
  CHECK(tmp.File("a", "1"));
  CHECK(tmp.File("b", "2"));
  CHECK(tmp.File("c", "3"));
  std::vector<std::string> events;
  auto visit_two = [&events](const ListEntry& e) {
    events.push_back(e.name);
    return events.size() < 3;
  };
  auto ready = [&events] {
    events.push_back("ready");
    return true;
  };
  CHECK(VisitDirectory(tmp.path(), ReadDirOptions(), visit_two, ready).ok());
  CHECK(events == NameList{"ready", "a", "b"});
  events.clear();
  CHECK(VisitDirectory(tmp.path(), ReadDirOptions(), visit_two, [&events] {
          events.push_back("ready");
          return false;
        }).ok());
  CHECK(events == NameList{"ready"});
  // An empty directory still gets its ready.
  TempDir empty;
  events.clear();
  CHECK(VisitDirectory(empty.path(), ReadDirOptions(), visit_two, ready).ok());
  CHECK(events == NameList{"ready"});
}

TEST_CASE("ReadDirectory fails on a missing directory or a plain file") {
  TempDir tmp;
  CHECK_FALSE(tmp.path().empty());
  if (tmp.path().empty()) return;
  std::vector<ListEntry> entries;
  Status s = ReadDirectory(tmp.path() + "/missing", ReadDirOptions(), &entries);
  CHECK_FALSE(s.ok());
  CHECK(s.errno_value() == ENOENT);
  CHECK(tmp.File("plain", "x"));
  s = ReadDirectory(tmp.path() + "/plain", ReadDirOptions(), &entries);
  CHECK_FALSE(s.ok());
  CHECK(s.errno_value() == ENOTDIR);
}

TEST_CASE("ReadDirectory output feeds FormatListLine") {
  TempDir tmp;
  CHECK_FALSE(tmp.path().empty());
  if (tmp.path().empty()) return;
  CHECK(tmp.File("a.txt", "hello!"));
  CHECK(tmp.Symlink("a.txt", "link"));
  std::vector<ListEntry> entries;
  CHECK(ReadDirectory(tmp.path(), ReadDirOptions(), &entries).ok());
  CHECK(entries.size() == 2);
  if (entries.size() != 2) return;
  ListFormat f;
  f.hide_ids = true;
  f.now = time(nullptr);
  std::string line = FormatListLine(entries[1], f);
  CHECK(line.substr(0, 10) == "lrwxrwxrwx");
  CHECK(line.find(" ftp      ftp             5 ") != std::string::npos);
  const std::string tail = " link -> a.txt\r\n";
  CHECK(line.size() > tail.size());
  if (line.size() > tail.size()) CHECK(line.substr(line.size() - tail.size()) == tail);
}

}  // namespace
}  // namespace keepftpd

namespace keepftpd {
namespace {

TEST_CASE("a hostile name cannot forge a listing line") {
  ListEntry e;
  e.name = "a\r\n-rw-r--r--    1 0        0               0 Jan 01  1970 forged";
  e.st.st_mode = S_IFREG | 0644;
  e.st.st_nlink = 1;
  ListFormat f;
  f.now = 1700000000;
  std::string line = FormatListLine(e, f);
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(line.find('\r') == line.size() - 2);
  std::string mlsd = FormatMlsdLine(e, MlstFacts(), 0, 0);
  CHECK(mlsd.find('\n') == mlsd.size() - 1);
  CHECK(ListingName("x\ry\nz") == "x?y?z");
  std::string nlst = "before\r\n";
  AppendNlstLine("d\ri\nr/", "x\ry\nz", &nlst);
  AppendNlstLine("", "", &nlst);
  CHECK(nlst == "before\r\nd?i?r/x?y?z\r\n\r\n");
}

TEST_CASE("dates far in the past do not overflow") {
  ListEntry e;
  e.name = "old";
  e.st.st_mode = S_IFREG | 0644;
  e.st.st_mtime = static_cast<time_t>(-9223372036854775807LL);
  ListFormat f;
  f.now = 1700000000;
  CHECK(FormatListLine(e, f).size() > 10);
}

}  // namespace
}  // namespace keepftpd
