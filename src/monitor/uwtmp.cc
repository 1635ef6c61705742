// utmp and wtmp records of a session (uwtmp.h). Monitor only, with root's uid.
#include "uwtmp.h"

#include <arpa/inet.h>
#include <sys/time.h>
#include <utmpx.h>

#include <algorithm>
#include <cstring>

namespace keepftpd {

namespace {

template <std::size_t N>
void Put(char (&field)[N], const std::string& value) {
  std::memset(field, 0, N);
  std::memcpy(field, value.data(), std::min(N, value.size()));
}

struct utmpx Record(short type, pid_t pid) {
  struct utmpx ut;
  std::memset(&ut, 0, sizeof(ut));
  ut.ut_type = type;
  ut.ut_pid = pid;
  const std::string line = "ftp" + std::to_string(pid);
  Put(ut.ut_line, line);
  Put(ut.ut_id, line.substr(line.size() > 4 ? line.size() - 4 : 0));  // as login(1) picks it
  struct timeval now;
  gettimeofday(&now, nullptr);
  ut.ut_tv.tv_sec = static_cast<decltype(ut.ut_tv.tv_sec)>(now.tv_sec);
  ut.ut_tv.tv_usec = static_cast<decltype(ut.ut_tv.tv_usec)>(now.tv_usec);
  return ut;
}

void Write(const struct utmpx& ut, const UwtmpFiles& files) {
  // Another utmp file (tests) is libc's for this call only; if it cannot be named, the record
  // is not written there rather than into the system's.
  const bool other_utmp = files.utmp != _PATH_UTMP;
  if (!other_utmp || utmpxname(files.utmp.c_str()) == 0) {
    setutxent();
    pututxline(&ut);  // fails quietly where the system keeps no utmp file
    endutxent();
    if (other_utmp) utmpxname(_PATH_UTMP);
  }
  updwtmpx(files.wtmp.c_str(), &ut);
}

}  // namespace

void UwtmpLogin(const std::string& user, const std::string& host, pid_t pid,
                const UwtmpFiles& files) {
  struct utmpx ut = Record(USER_PROCESS, pid);
  Put(ut.ut_user, user);
  Put(ut.ut_host, host);
  if (inet_pton(AF_INET, host.c_str(), ut.ut_addr_v6) != 1) {
    inet_pton(AF_INET6, host.c_str(), ut.ut_addr_v6);
  }
  Write(ut, files);
}

void UwtmpLogout(pid_t pid, const UwtmpFiles& files) { Write(Record(DEAD_PROCESS, pid), files); }

}  // namespace keepftpd
