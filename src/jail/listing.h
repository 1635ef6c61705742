// Directory listings: reading a directory and formatting LIST (the `ls -l` lines vsftpd prints),
// NLST and MLSD/MLST (RFC 3659) entries. Used by the session jail, after chroot: it never looks
// up user or group names (no NSS in the jail), it prints numeric ids or "ftp" with hide_ids.
#ifndef KEEPFTPD_SRC_JAIL_LISTING_H_
#define KEEPFTPD_SRC_JAIL_LISTING_H_

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ftp_path.h"
#include "status.h"

namespace keepftpd {

inline constexpr std::size_t kMaxListEntries = 100000;
// LIST -R (ls_recurse_enable) goes at most this many directories deep.
inline constexpr unsigned kMaxListDepth = 32;

struct ListEntry {
  std::string name;         // as shown (a bare name, or the path as the client gave it)
  struct stat st = {};      // from lstat
  std::string link_target;  // for symlinks: readlink() result, else empty
  bool target_ok = false;   // for symlinks: stat() of the target succeeded
  struct stat target_st = {};  // for symlinks with target_ok: the target's stat (MLSD uses it)
};

struct ListFormat {
  bool hide_ids = false;      // print "ftp" for owner and group instead of numbers
  // text_userdb_names: names for ids (looked up before the chroot); ids not found print as
  // numbers. Ignored with hide_ids.
  const std::map<uid_t, std::string>* user_names = nullptr;
  const std::map<gid_t, std::string>* group_names = nullptr;
  bool use_localtime = false; // localtime_r instead of gmtime_r for dates
  time_t now = 0;             // "recent" means within 180 days before now (and not in the future)
};

// A file name (or symlink target) as it may appear in a listing line: CR and LF become '?',
// so that a hostile name cannot end its line and forge another entry.
std::string ListingName(std::string_view name);
void AppendListingName(std::string_view name, std::string* out);
// An NLST line: prefix and name as ListingName prints them, then "\r\n".
void AppendNlstLine(std::string_view prefix, std::string_view name, std::string* out);

// One `ls -l` line as vsftpd prints it, ending in "\r\n":
// "drwxr-xr-x    2 0        0            4096 Nov 22 07:40 pub"
// perms(10) ' ' nlink right-aligned in 4, ' ' owner left-aligned in 8, ' ' group left-aligned
// in 8, ' ' size right-aligned in 8, ' ' date, ' ' name [" -> " target]. Date: "%b %d %H:%M" when
// recent, "%b %d  %Y" otherwise. Type letters d - l c b p s; setuid/setgid/sticky as ls prints.
// The part before the name is cut at 159 bytes (as snprintf into 160 bytes did), which only
// long names from text_userdb_names can reach.
std::string FormatListLine(const ListEntry& entry, const ListFormat& format);
// The same line appended to *out (no temporaries: what a listing of many entries uses).
void AppendListLine(const ListEntry& entry, const ListFormat& format, std::string* out);

// The MLST facts a client can select with OPTS MLST.
struct MlstFacts {
  bool type = true, size = true, modify = true, perm = true, unix_mode = true, unique = true;
  // Parses the OPTS MLST argument ("type;size;" — case-insensitive, unknown names ignored, empty
  // selects none) into the enabled set.
  static MlstFacts Parse(std::string_view arg);
  // For FEAT: "type*;size*;modify*;perm*;unix.mode*;unique*;" ('*' marks the enabled ones).
  std::string FeatString() const;
  // For the 200 reply to OPTS MLST: "type;size;" (enabled facts only, in canonical order).
  std::string EnabledString() const;
};

// Facts for one entry, in this order and only those enabled:
// "type=file;size=6;modify=20261122074006;perm=r;unix.mode=0644;unique=803g2a;"
// type: file | dir | OS.unix=symlink (a symlink uses target_st when target_ok; the last type
// only for a symlink whose target could not be stat'ed). Other file types: OS.unix=fifo,
// OS.unix=socket, OS.unix=chardev, OS.unix=blockdev. modify: UTC, YYYYMMDDHHMMSS.
// perm from st_mode against uid/gid (owner bits if st_uid == uid, else group bits if
// st_gid == gid, else other bits): files "r" when readable; dirs "e" when searchable plus "l"
// when readable (so "el"); nothing else: this server grants no write permissions yet.
// unix.mode: 4 octal digits. unique: st_dev in lower-case hex, 'g', st_ino in lower-case hex.
std::string FormatMlsxFacts(const ListEntry& entry, const MlstFacts& facts, uid_t uid, gid_t gid);

// "facts name\r\n" for MLSD.
std::string FormatMlsdLine(const ListEntry& entry, const MlstFacts& facts, uid_t uid, gid_t gid);
void AppendMlsdLine(const ListEntry& entry, const MlstFacts& facts, uid_t uid, gid_t gid,
                    std::string* out);

struct ReadDirOptions {
  bool show_dot_files = false;  // names starting with '.', except "." and ".."
  bool show_dot_dirs = false;   // "." and ".." themselves (LIST -a)
  std::string_view pattern;     // if non-empty, only names matching this wildcard pattern
  const NameFilter* hide = nullptr;  // hide_file: matching names are left out
  bool names_only = false;      // NLST: names alone, no lstat or readlink (st stays zeroed)
  // For a symbolic link: readlink (link_target, which LIST shows) and stat of its target
  // (target_st, which MLSD describes). A listing asks only for what it prints.
  bool read_links = true;
  bool stat_link_targets = true;
};

// Reads the directory at path: its names (at most kMaxListEntries), sorted by name (byte
// order), then, in that order, lstat and (for symlinks) readlink and stat of each entry, unless
// names_only, and visit(entry) right after. Entries that vanished in between are left out.
// `entry` is the same object at every call, overwritten: a listing formats it and moves on.
// Fails with a Status, before any visit, when the directory cannot be opened or read.
// ready, if given, is called once the names are read and sorted, before the first stat: after
// it, nothing fails (a listing opens its data connection there). When ready or visit returns
// false, the walk stops there, and the result is still Ok.
Status VisitDirectory(const std::string& path, const ReadDirOptions& options,
                      const std::function<bool(const ListEntry&)>& visit,
                      const std::function<bool()>& ready = nullptr);

// The same entries, collected into *out (LIST -R needs them all to find the directories).
Status ReadDirectory(const std::string& path, const ReadDirOptions& options,
                     std::vector<ListEntry>* out);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_LISTING_H_
