// setproctitle_enable: each process of a connection shows its role and state in ps, written
// over the argument strings (/proc/PID/cmdline), e.g. "keepftpd: 192.0.2.7: alice: RETR".
// Never a password. Shared by every process; InitProcTitle runs once, in main.
#ifndef KEEPFTPD_SRC_COMMON_PROCTITLE_H_
#define KEEPFTPD_SRC_COMMON_PROCTITLE_H_

#include <string_view>

namespace keepftpd {

// Remembers the argument area. enabled: setproctitle_enable (otherwise SetProcTitle does nothing).
void InitProcTitle(int argc, char** argv);
void EnableProcTitle(bool enabled);
// "keepftpd: " + title, cut to the space the arguments had.
void SetProcTitle(std::string_view title);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_PROCTITLE_H_
