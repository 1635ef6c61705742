// The pre-login FTP dialogue: banner, USER, PASS, FEAT, OPTS, HOST, QUIT. Runs in the pre-login
// jail (nopriv_user, chrooted into secure_chroot_dir, seccomp). A login is a request to the
// monitor; when it succeeds this process exits and the monitor starts the session jail.
#ifndef KEEPFTPD_SRC_PRELOGIN_H_
#define KEEPFTPD_SRC_PRELOGIN_H_

#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "session.h"

namespace keepftpd {

// The pre-login dialogue on the control connection: banner, USER, PASS (a LOGIN request to the
// monitor on channel), FEAT, OPTS, HOST, NOOP, QUIT. Exits after a successful login.
// reinit: started after REIN, so the greeting is "220 Ready for new user." instead of the banner.
[[noreturn]] void RunPrelogin(const Config& config, const SessionInfo& session, int channel,
                              bool reinit);

// True when the verb may run under cmds_allowed / cmds_denied (both jails use it).
bool CommandPermitted(const Config& config, std::string_view verb);

// The FEAT reply lines (shared with the session jail).
std::vector<std::string> FeatureLines(const std::string& mlst_facts, const std::string& hashes);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_PRELOGIN_H_
