// session_support: a session's utmp and wtmp records, as who(1) and last(1) read them. Monitor
// only, with root's uid: the login record before the session's monitor starts, the logout
// record when it has ended.
#ifndef KEEPFTPD_SRC_MONITOR_UWTMP_H_
#define KEEPFTPD_SRC_MONITOR_UWTMP_H_

#include <sys/types.h>

#include <string>

namespace keepftpd {

// The line is "ftp" and the pid of the process that stays for the session (the keeper).
void UwtmpLogin(const std::string& user, const std::string& host, pid_t pid);
void UwtmpLogout(pid_t pid);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_UWTMP_H_
