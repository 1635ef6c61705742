// The logged-in FTP command loop: navigation, listings, downloads, data connection setup, status
// and session commands. Runs in the session jail (the user's uid, chrooted, seccomp); data
// connections come from the monitor.
#ifndef KEEPFTPD_SRC_JAIL_POSTLOGIN_H_
#define KEEPFTPD_SRC_JAIL_POSTLOGIN_H_

#include <string>

#include "config.h"
#include "session.h"

namespace keepftpd {

[[noreturn]] void RunSession(const Config& config, const SessionInfo& session, int channel,
                             const SessionUser& user);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_POSTLOGIN_H_
