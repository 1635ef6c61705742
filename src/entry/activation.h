// Finding the one connection this process serves: a socket passed by systemd (LISTEN_FDS,
// Accept=yes) or fd 0 (inetd, xinetd, StandardInput=socket). Then descriptor hygiene: the
// connection moves to its own descriptor, 0 and 1 become /dev/null, 2 too when it is the client
// socket (xinetd), everything else is closed. Entry process only, as root, before any fork.
#ifndef KEEPFTPD_SRC_ENTRY_ACTIVATION_H_
#define KEEPFTPD_SRC_ENTRY_ACTIVATION_H_

#include <string>

#include "status.h"
#include "unique_fd.h"

namespace keepftpd {

struct Activation {
  UniqueFd connection;        // a connected TCP socket (IPv4 or IPv6), close-on-exec
  bool stderr_usable = false; // fd 2 is something other than the client socket
  std::string how;            // "systemd" or "inetd", for logs
};

// Fails with a message meant for a human on stderr (the caller exits 2).
Result<Activation> FindConnection();

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_ENTRY_ACTIVATION_H_
