// vsftpd's name filters: parsing and matching (name_filter.h). Pure logic, shared.
#include "name_filter.h"

#include "strutil.h"

namespace keepftpd {

bool WildcardMatch(std::string_view pattern, std::string_view name) {
  // Greedy two-pointer matching: on a mismatch, only the most recent '*' is retried, one byte
  // further along the name. Earlier stars never need revisiting, so the cost is O(p * n).
  std::size_t p = 0, n = 0;
  std::size_t star_p = std::string_view::npos;  // position just after the last '*'
  std::size_t star_n = 0;                       // name position that '*' is matched up to
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = ++p;
      star_n = n;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (star_p != std::string_view::npos) {
      p = star_p;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<NameFilter> NameFilter::Parse(std::string_view spec) {
  constexpr std::string_view kExpected = "; expected a pattern or a list like {*.mp3,.private}";
  NameFilter filter;
  if (spec.empty()) return filter;
  const bool braced = spec.front() == '{';
  std::string_view inner = spec;
  if (braced) {
    if (spec.size() < 2 || spec.back() != '}') {
      return Status::Error("unbalanced '{'" + std::string(kExpected));
    }
    inner = spec.substr(1, spec.size() - 2);
    if (inner.empty()) return Status::Error("empty list '{}'" + std::string(kExpected));
  }
  if (inner.find_first_of("{}") != std::string_view::npos) {
    return Status::Error("misplaced '{' or '}'" + std::string(kExpected));
  }
  if (!braced && inner.find(',') != std::string_view::npos) {
    return Status::Error("a list of patterns must be written in braces" + std::string(kExpected));
  }
  for (std::string_view pattern : Split(inner, ',')) {
    if (pattern.empty()) return Status::Error("empty pattern in the list" + std::string(kExpected));
    if (pattern.find('/') != std::string_view::npos) {
      return Status::Error("'" + SanitizeForLog(pattern) +
                           "' contains '/'; patterns match single names");
    }
    filter.patterns_.emplace_back(pattern);
  }
  return filter;
}

bool NameFilter::Matches(std::string_view name) const {
  for (const std::string& pattern : patterns_) {
    if (WildcardMatch(pattern, name)) return true;
  }
  return false;
}

bool NameFilter::MatchesAnyComponent(std::string_view abs_path) const {
  if (patterns_.empty()) return false;
  for (std::string_view comp : Split(abs_path, '/')) {
    if (comp.empty()) continue;
    if (Matches(comp)) return true;
  }
  return false;
}

}  // namespace keepftpd
