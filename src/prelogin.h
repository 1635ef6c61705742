// The pre-login FTP dialogue: banner, USER, PASS, FEAT, OPTS, HOST, QUIT. Runs in the pre-login
// jail (nopriv_user, chrooted into secure_chroot_dir, seccomp). A login is a request to the
// monitor; when it succeeds this process exits and the monitor starts the session jail.
#ifndef KEEPFTPD_SRC_PRELOGIN_H_
#define KEEPFTPD_SRC_PRELOGIN_H_

#include <string>
#include <string_view>
#include <vector>

#include "cmdio.h"
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

// True when the verb may run under cmds_allowed / cmds_denied (both jails use it).
bool CommandPermitted(const Config& config, std::string_view verb);

// The FEAT reply lines (shared with the session jail).
// tls: list AUTH TLS, PBSZ and PROT (ssl_enable).
std::vector<std::string> FeatureLines(const std::string& mlst_facts, const std::string& hashes,
                                      bool tls);

// PBSZ and PROT, before and after login: the reply, and the new state.
struct ProtState {
  bool pbsz = false;          // PBSZ 0 was given
  bool private_data = false;  // PROT P
};
void HandlePbsz(ControlConnection& ctrl, bool tls, std::string_view arg, ProtState* state);
void HandleProt(ControlConnection& ctrl, bool tls, std::string_view arg, ProtState* state);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_PRELOGIN_H_
