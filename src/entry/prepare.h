// What a connection needs besides a configuration that parses: the accounts it names, the
// lists and the banner it reads, its directories (secure_chroot_dir, anon_root, login_state_dir),
// the PAM service, the certificate and key files, the transfer logs. One function checks them
// for both callers, so that "OK" from --check-config means a connection will be served: the
// entry process before it becomes the monitor (as root, or rootless as the launching user), and
// --check-config and --from-vsftpd, which create nothing. Entry process only.
#ifndef KEEPFTPD_SRC_ENTRY_PREPARE_H_
#define KEEPFTPD_SRC_ENTRY_PREPARE_H_

#include <string>
#include <vector>

#include "config.h"
#include "session.h"

namespace keepftpd {

// One reason a connection could not be served: the option at fault (empty for none in
// particular) and what is wrong with its value, with the fix where there is one.
struct PrepareError {
  std::string option;
  std::string message;  // "option=value: what is wrong (the fix)"
};

enum class Preparation {
  kServe,  // fill *session (accounts, lists, banner) and open the transfer logs
  kCheck,  // the same checks; nothing is created or opened for writing
};

// Every check a connection runs before its monitor starts. session->rootless must be set
// (config.run_as_launching_user); with kServe the rest of *session is filled in. An empty result
// means a connection would be served.
std::vector<PrepareError> PrepareSession(const Config& config, Preparation how,
                                         SessionInfo* session);

// Whether PAM has a service of this name (/etc/pam.d, or the vendor directory /usr/lib/pam.d).
bool PamServiceExists(std::string_view name);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_ENTRY_PREPARE_H_
