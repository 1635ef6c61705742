// Client path handling: resolving FTP path arguments, wildcard matching, vsftpd-style name
// filters and 257 quoting. Pure string logic, no syscalls. Used by the session jail.
#include "ftp_path.h"

#include <utility>

#include "strutil.h"

namespace keepftpd {

Result<std::string> ResolvePath(std::string_view cwd, std::string_view arg) {
  if (HasControlLineBytes(arg) || HasControlLineBytes(cwd)) {
    return Status::Error("path contains a NUL, CR or LF byte");
  }
  if (arg.size() > kMaxPathLength || cwd.size() > kMaxPathLength) {
    return Status::Error("path too long");
  }
  // Normalise cwd first, then arg on top of it (or on top of "/" when arg is absolute).
  std::vector<std::string_view> parts;
  auto push_components = [&parts](std::string_view s) {
    for (std::string_view comp : Split(s, '/')) {
      if (comp.empty() || comp == ".") continue;
      if (comp == "..") {
        if (!parts.empty()) parts.pop_back();
        continue;
      }
      parts.push_back(comp);
    }
  };
  if (arg.empty() || arg.front() != '/') push_components(cwd);
  push_components(arg);

  std::string out;
  for (std::string_view comp : parts) {
    out += '/';
    out.append(comp);
    if (out.size() > kMaxPathLength) return Status::Error("resolved path too long");
  }
  if (out.empty()) out.push_back('/');
  return out;
}

std::pair<std::string, std::string> SplitDirBase(std::string_view abs_path) {
  std::size_t slash = abs_path.rfind('/');
  if (slash == std::string_view::npos) return {"/", std::string(abs_path)};
  std::string base(abs_path.substr(slash + 1));
  if (slash == 0) return {"/", std::move(base)};
  return {std::string(abs_path.substr(0, slash)), std::move(base)};
}

bool HasWildcard(std::string_view s) {
  return s.find_first_of("*?") != std::string_view::npos;
}

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
  NameFilter filter;
  if (spec.empty()) return filter;
  if (spec.front() == '{') {
    if (spec.size() < 2 || spec.back() != '}') return Status::Error("unbalanced '{' in filter");
    std::string_view inner = spec.substr(1, spec.size() - 2);
    if (inner.find_first_of("{}") != std::string_view::npos) {
      return Status::Error("unbalanced or nested brace in filter");
    }
    for (std::string_view alt : Split(inner, ',')) {
      if (alt.empty()) return Status::Error("empty alternative in filter");
      filter.patterns_.emplace_back(alt);
    }
    return filter;
  }
  if (spec.find_first_of("{}") != std::string_view::npos) {
    return Status::Error("unbalanced brace in filter");
  }
  filter.patterns_.emplace_back(spec);
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

std::string QuoteForReply(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    out += c;
    if (c == '"') out += '"';
  }
  return out;
}

}  // namespace keepftpd
