// Hidden commands for the privilege audit tests, compiled only into test builds
// (meson -Dtest_hooks=true; ./dev builds that way). They let a test act as a compromised jail.
// A release build has none: TestHook() is then always false. Jails only.
#ifndef KEEPFTPD_SRC_JAIL_TEST_HOOKS_H_
#define KEEPFTPD_SRC_JAIL_TEST_HOOKS_H_

#include <string_view>

#include "ftp_command.h"

namespace keepftpd {

// XKFTPDFORBIDDEN: makes a system call no jail's seccomp policy allows (ptrace).
// XKFTPDREQUEST KIND: sends the monitor a request it must refuse, KIND being
//   "phase" (a request of the other phase), "oversized" (a LOG body over its limit),
//   "fd" (a LOG carrying a descriptor), "malformed" (a LOG with trailing bytes), "unknown" (a
//   type number that does not exist) or "twice" (two SECCOMP_REPORTs: one per jail); or
//   "linger": closes the jail's end of the channel without a word and sleeps for 30 s, as a
//   jail that seems to exit and does not (the monitor must kill it).
// XKFTPDFORGE KIND: sends the monitor a request it must accept but not believe: "log" (a LOG
//   record at priority 0 whose text is a failed login from 192.0.2.99), "bytes" (two transfer
//   EVENTs of 2^63-1 bytes each, logged in only), "rein" (a REINIT where REIN after login is
//   not available: the monitor must end the connection), "chown PATH" (CHOWN_UPLOAD of a file
//   that is not an upload of this session: the monitor must refuse it), "proxy" (a PROXY_INFO
//   before login that the client never sent: where none is expected, or a second one, the
//   monitor ends the connection), "port N" (PORT_CONNECT to 127.0.0.2 port N, logged in, which
//   is not the client's address: the monitor must refuse it).
// Returns true when cmd was a test hook and the jail is still alive (it replies itself).
bool TestHook(const FtpCommand& cmd, int channel, bool logged_in);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_TEST_HOOKS_H_
