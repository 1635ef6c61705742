// session_support: a session's utmp and wtmp records, as who(1) and last(1) read them. Monitor
// only, with root's uid: the login record before the session's monitor starts, the logout
// record when it has ended.
#ifndef KEEPFTPD_SRC_MONITOR_UWTMP_H_
#define KEEPFTPD_SRC_MONITOR_UWTMP_H_

#include <paths.h>
#include <sys/types.h>

#include <string>

namespace keepftpd {

// Where the records go: the system's files, unless a test names others (which must exist).
struct UwtmpFiles {
  std::string utmp = _PATH_UTMP;
  std::string wtmp = _PATH_WTMP;
};

// The line is "ftp" and the pid of the process that stays for the session (the keeper).
void UwtmpLogin(const std::string& user, const std::string& host, pid_t pid,
                const UwtmpFiles& files = {});
void UwtmpLogout(pid_t pid, const UwtmpFiles& files = {});

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_UWTMP_H_
