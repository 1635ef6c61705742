// Local-user logins in the monitor: Linux-PAM (authenticate, account management, credentials),
// /etc/shells, and where the session jail goes (the user-name rules are login_rules.h).
// Monitor only: it runs with root's uid before login. Passwords live only in buffers that are
// wiped after use; they never reach a log.
#ifndef KEEPFTPD_SRC_MONITOR_AUTH_H_
#define KEEPFTPD_SRC_MONITOR_AUTH_H_

#include <security/pam_appl.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace keepftpd {

struct PamResult {
  bool ok = false;
  std::string user;    // PAM_USER after authentication (a module may map the name)
  std::string reason;  // for the log when !ok: pam_strerror of the failing step
};

// pam_start(service) with PAM_RHOST and PAM_TTY "ftp", pam_authenticate, pam_acct_mgmt,
// pam_setcred(PAM_ESTABLISH_CRED), pam_end. With keep (session_support), a successful login's
// handle is not ended but returned in *keep, its conversation no longer able to answer with the
// password, for PamOpenSession.
PamResult PamLogin(const std::string& service, const std::string& user,
                   const std::string& password, const std::string& rhost,
                   pam_handle_t** keep = nullptr);

// session_support: pam_open_session on a kept handle (false, with *reason, when it fails), and
// at the end pam_close_session, pam_setcred(PAM_DELETE_CRED) and pam_end. PamEnd alone ends a
// kept handle whose session was never opened.
bool PamOpenSession(pam_handle_t* pamh, std::string* reason);
void PamCloseSession(pam_handle_t* pamh);
void PamEnd(pam_handle_t* pamh);

// True when shell is listed in /etc/shells (getusershell).
bool ShellIsListed(const std::string& shell);

// Where a local user's session jail goes (vsftpd's rules):
//   dir = local_root with user_sub_token replaced by the user name, or else the home directory;
//   chrooted = chroot_local_user, inverted for users in chroot_list_file (chroot_list_enable);
//   chrooted with passwd_chroot_enable and "/./" in dir: root = the part before it, start = the
//   part after it; chrooted otherwise: root = dir, start = "/"; not chrooted: root = "/",
//   start = dir without its "/./" marker (the same directory). Chrooted, chroot_start_dir (its
//   user_sub_token replaced too) is appended to start.
struct JailPlace {
  bool chrooted = false;
  std::string root;
  std::string start;
};
JailPlace PlaceLocalUser(const Config& config, const std::vector<std::string>& chroot_list,
                         const std::string& user, const std::string& home);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_AUTH_H_
