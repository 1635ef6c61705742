// Client path handling: resolving an FTP path argument against the current directory into a
// normalised absolute path, and quoting for 257 replies (the name filters are name_filter.h). Pure string logic, no syscalls: the chroot is what confines the
// session; this keeps what we open, reply and log well-formed. Used by the session jail.
#ifndef KEEPFTPD_SRC_JAIL_FTP_PATH_H_
#define KEEPFTPD_SRC_JAIL_FTP_PATH_H_

#include <string>
#include <string_view>
#include <vector>

#include "name_filter.h"
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

// Doubles every '"' (RFC 959 appendix II), for 257 replies.
std::string QuoteForReply(std::string_view path);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_FTP_PATH_H_
