// The rules about user names that both sides of the login apply: which names are anonymous, the
// user lists (userlist_file, chroot_list_file, the e-mail lists) and what userlist_enable makes
// of them. The pre-login jail applies them at USER (as vsftpd does, before a password is asked
// for), the monitor again at login. Pure logic, but for ReadNameList, which the entry process
// uses to read the lists before anything forks.
#ifndef KEEPFTPD_SRC_COMMON_LOGIN_RULES_H_
#define KEEPFTPD_SRC_COMMON_LOGIN_RULES_H_

#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "status.h"

namespace keepftpd {

// "anonymous" and "ftp", in any case: the names that ask for an anonymous login.
bool IsAnonymousName(std::string_view user);

// True when name is one of the lines of list (exact match; blank lines and spaces ignored).
bool InNameList(const std::vector<std::string>& list, std::string_view name);

// Reads a file of user names, one per line ('#' comments and blank lines skipped; at most
// 1 MiB). Fails with a message naming the file.
Status ReadNameList(const std::string& path, std::vector<std::string>* out);

// The FTPS rules of a login, as vsftpd has them: a login without TLS where
// force_local_logins_ssl (anonymous: allow_anon_ssl and force_anon_logins_ssl) asks for it, or an
// anonymous login over TLS without allow_anon_ssl, is refused. Returns the client's reply then,
// else nullptr.
const char* TlsLoginRefusal(const Config& config, bool anonymous, bool tls);

// True when user may try to log in as far as userlist_enable/userlist_deny say.
bool UserListAllows(const Config& config, const std::vector<std::string>& user_list,
                    std::string_view user);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_LOGIN_RULES_H_
