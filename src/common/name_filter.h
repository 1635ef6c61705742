// vsftpd's name filters (deny_file, hide_file, download_file, upload_file): a pattern like
// "*.bak", or a list like "{*.mp3,*.mov,.private}", matched against single names with '*' and
// '?'. Pure logic, shared: the configuration parses each filter once, and the session jail
// matches names against it.
#ifndef KEEPFTPD_SRC_COMMON_NAME_FILTER_H_
#define KEEPFTPD_SRC_COMMON_NAME_FILTER_H_

#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace keepftpd {

// Shell-like match of name against pattern with '*' (any run, also empty) and '?' (one byte);
// every other byte matches itself. Runs in O(len(pattern) * len(name)) at worst: no exponential
// backtracking whatever the input.
bool WildcardMatch(std::string_view pattern, std::string_view name);

// A vsftpd-style filter: "{*.mp3,*.mov,.private}" or a single pattern "*.bak". Empty = matches
// nothing.
class NameFilter {
 public:
  NameFilter() = default;
  // Fails, saying why, on an unbalanced or misplaced brace, an empty list or pattern, a list
  // without braces, or a pattern with '/' (patterns match single names).
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

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_NAME_FILTER_H_
