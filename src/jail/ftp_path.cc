// Client path handling: resolving FTP path arguments and 257 quoting. Pure string logic, no
// syscalls. Used by the session jail.
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
