// Fuzz target: client path arguments resolved against a current directory (ResolvePath), and
// the wildcard and deny_file/hide_file filters applied to names and paths.
// Input: "<cwd>\n<arg>" (the first NUL or LF splits; without one the whole input is the arg and
// the cwd is "/"). The cwd half doubles as a filter spec and wildcard pattern, the arg half as a
// name to match.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ftp_path.h"
#include "fuzz_common.h"

using keepftpd_fuzz::Contains;
using keepftpd_fuzz::EndsWith;

namespace {

void CheckNormalised(const std::string& p) {
  FUZZ_CHECK(!p.empty() && p.front() == '/');
  FUZZ_CHECK(!Contains(p, "//"));
  FUZZ_CHECK(!Contains(p, "/./"));
  FUZZ_CHECK(!Contains(p, "/../"));
  FUZZ_CHECK(!EndsWith(p, "/.") && !EndsWith(p, "/.."));
  FUZZ_CHECK(p == "/" || p.back() != '/');
  FUZZ_CHECK(p.size() <= keepftpd::kMaxPathLength);
  FUZZ_CHECK(p.find_first_of(std::string_view("\0\r\n", 3)) == std::string::npos);
}

// Plain dynamic-programming wildcard match ('*' any run, '?' one byte): the reference the fast
// matcher is compared with on small inputs.
bool ReferenceMatch(std::string_view pattern, std::string_view name) {
  std::vector<char> row(name.size() + 1, 0), next(name.size() + 1, 0);
  row[0] = 1;  // empty pattern matches empty name
  for (std::size_t j = 1; j <= name.size(); ++j) row[j] = 0;
  for (char pc : pattern) {
    next[0] = pc == '*' ? row[0] : 0;
    for (std::size_t j = 1; j <= name.size(); ++j) {
      if (pc == '*') {
        next[j] = row[j] || next[j - 1];
      } else {
        next[j] = row[j - 1] && (pc == '?' || pc == name[j - 1]);
      }
    }
    row.swap(next);
  }
  return row[name.size()] != 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find_first_of(std::string_view("\0\n", 2));
  std::string_view cwd_part = "/";
  std::string_view arg_part = input;
  if (split != std::string_view::npos) {
    cwd_part = input.substr(0, split);
    arg_part = input.substr(split + 1);
  }

  // The cwd a session holds is always a normalised absolute path.
  std::string cwd = "/";
  keepftpd::Result<std::string> ncwd = keepftpd::ResolvePath("/", cwd_part);
  if (ncwd.ok()) {
    CheckNormalised(*ncwd);
    cwd = *ncwd;
  }

  keepftpd::Result<std::string> resolved = keepftpd::ResolvePath(cwd, arg_part);
  if (resolved.ok()) {
    const std::string& p = *resolved;
    CheckNormalised(p);
    // Resolving is idempotent: a normalised path resolves to itself from anywhere.
    keepftpd::Result<std::string> again = keepftpd::ResolvePath("/", p);
    FUZZ_CHECK(again.ok() && *again == p);
    keepftpd::Result<std::string> here = keepftpd::ResolvePath(p, "");
    FUZZ_CHECK(here.ok() && *here == p);
    auto [dir, base] = keepftpd::SplitDirBase(p);
    FUZZ_CHECK(!dir.empty() && dir.front() == '/');
    FUZZ_CHECK(p == "/" ? base.empty() : !base.empty());
    const std::string quoted = keepftpd::QuoteForReply(p);
    FUZZ_CHECK(quoted.size() >= p.size());
  } else {
    FUZZ_CHECK(!resolved.status().message().empty());
  }

  // Wildcards: a pattern always matches itself, '*' matches everything, and the fast matcher
  // agrees with the reference on inputs small enough for it.
  const std::string_view pattern = cwd_part;
  const std::string_view name = arg_part;
  const bool match = keepftpd::WildcardMatch(pattern, name);
  FUZZ_CHECK(keepftpd::WildcardMatch(pattern, pattern));
  FUZZ_CHECK(keepftpd::WildcardMatch("*", name));
  if (pattern.size() * (name.size() + 1) <= 65536) {
    FUZZ_CHECK(match == ReferenceMatch(pattern, name));
  }
  if (!keepftpd::HasWildcard(pattern)) FUZZ_CHECK(match == (pattern == name));

  keepftpd::Result<keepftpd::NameFilter> filter = keepftpd::NameFilter::Parse(pattern);
  if (filter.ok()) {
    const bool m = filter->Matches(name);
    if (filter->empty()) FUZZ_CHECK(!m);
    if (resolved.ok()) (void)filter->MatchesAnyComponent(*resolved);
    (void)filter->MatchesAnyComponent(name);
  }
  return 0;
}
