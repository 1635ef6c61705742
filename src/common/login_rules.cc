// The user-name rules of the login, applied by the pre-login jail and by the monitor. Shared.
#include "login_rules.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "strutil.h"
#include "unique_fd.h"

namespace keepftpd {

namespace {
constexpr std::size_t kMaxNameListBytes = 1 << 20;
}  // namespace

bool IsAnonymousName(std::string_view user) {
  return EqualsIgnoreCase(user, "anonymous") || EqualsIgnoreCase(user, "ftp");
}

bool InNameList(const std::vector<std::string>& list, std::string_view name) {
  for (const std::string& entry : list) {
    if (TrimSpaces(entry) == name) return true;
  }
  return false;
}

Status ReadNameList(const std::string& path, std::vector<std::string>* out) {
  UniqueFd file(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!file.valid()) return Status::FromErrno(errno, path);
  std::string text;
  char buf[8192];
  while (true) {
    ssize_t n = read(file.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, path);
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxNameListBytes) return Status::Error(path + ": larger than 1 MiB");
  }
  out->clear();
  for (std::string_view line : Split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = TrimSpaces(line);
    if (!line.empty() && line.front() != '#') out->emplace_back(line);
  }
  return Status::Ok();
}

const char* TlsLoginRefusal(const Config& config, bool anonymous, bool tls) {
  if (config.ssl_enable && !tls &&
      (anonymous ? config.allow_anon_ssl && config.force_anon_logins_ssl
                 : config.force_local_logins_ssl)) {
    return anonymous ? "Anonymous sessions must use encryption."
                     : "Non-anonymous sessions must use encryption.";
  }
  if (tls && anonymous && !config.allow_anon_ssl) {
    return "Anonymous sessions may not use encryption.";
  }
  return nullptr;
}

bool UserListAllows(const Config& config, const std::vector<std::string>& user_list,
                    std::string_view user) {
  if (!config.userlist_enable) return true;
  bool listed = InNameList(user_list, user);
  return config.userlist_deny ? !listed : listed;
}

}  // namespace keepftpd
