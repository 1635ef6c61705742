// The pre-login FTP dialogue: banner, USER, PASS, FEAT, OPTS, HOST, QUIT. Runs in the pre-login
// jail (nopriv_user, chrooted into secure_chroot_dir, seccomp). A login is a request to the
// monitor; when it succeeds this process exits and the monitor starts the session jail. What
// the session jail answers the same way is in features.h.
#ifndef KEEPFTPD_SRC_JAIL_PRELOGIN_H_
#define KEEPFTPD_SRC_JAIL_PRELOGIN_H_

#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "session.h"

namespace keepftpd {

// The pre-login dialogue on the control connection: banner, USER, PASS (a LOGIN request to the
// monitor on channel), FEAT, OPTS, HOST, NOOP, QUIT. Exits after a successful login.
// greeting: the banner, or "220 Ready for new user." after REIN. tls: the control connection
// is already a TLS jail's plaintext end (implicit FTPS, or REIN after AUTH TLS).
enum class PreloginGreeting { kBanner, kReinit };
[[noreturn]] void RunPrelogin(const Config& config, const SessionInfo& session, int channel,
                              PreloginGreeting greeting, bool tls);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_PRELOGIN_H_
