// Client path handling: resolving an FTP path argument against the current directory into a
// normalised absolute path, wildcard matching, vsftpd-style name filters (deny_file, hide_file),
// and quoting for 257 replies. Pure string logic, no syscalls: the chroot is what confines the
// session; this keeps what we open, reply and log well-formed. Used by the session jail.
#ifndef KEEPFTPD_SRC_JAIL_FTP_PATH_H_
#define KEEPFTPD_SRC_JAIL_FTP_PATH_H_

#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace keepftpd {

inline constexpr std::size_t kMaxPathLength = 4096;

// Joins arg to cwd (an absolute, normalised path) unless arg is absolute, then normalises:
// collapses repeated '/', removes '.', resolves '..' (never above '/'), drops a trailing '/'
// (except for "/" itself). An empty arg resolves to cwd. "~" is NOT expanded. Fails (Status)
// when arg contains a NUL, CR or LF byte or when arg or the result is longer than kMaxPathLength.
Result<std::string> ResolvePath(std::string_view cwd, std::string_view arg);

// Splits an absolute normalised path into its directory and last component:
// "/a/b" -> {"/a", "b"}, "/a" -> {"/", "a"}, "/" -> {"/", ""}.
std::pair<std::string, std::string> SplitDirBase(std::string_view abs_path);

// True when s contains '*' or '?'.
bool HasWildcard(std::string_view s);

// Shell-like match of name against pattern with '*' (any run, also empty) and '?' (one byte);
// every other byte matches itself. Runs in O(len(pattern) * len(name)) at worst: no exponential
// backtracking whatever the input.
bool WildcardMatch(std::string_view pattern, std::string_view name);

// A vsftpd-style filter: "{*.mp3,*.mov,.private}" or a single pattern "*.bak". Empty = matches
// nothing.
class NameFilter {
 public:
  NameFilter() = default;
  // Fails on an unbalanced brace or an empty alternative list like "{}".
  static Result<NameFilter> Parse(std::string_view spec);
  bool empty() const { return patterns_.empty(); }
  // True when the single name component matches any pattern.
  bool Matches(std::string_view name) const;
  // True when any component of the absolute path matches (so a denied directory denies
  // everything below it).
  bool MatchesAnyComponent(std::string_view abs_path) const;

 private:
  std::vector<std::string> patterns_;
};

// Doubles every '"' (RFC 959 appendix II), for 257 replies.
std::string QuoteForReply(std::string_view path);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_FTP_PATH_H_
