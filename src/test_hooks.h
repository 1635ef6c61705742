// Hidden commands for the privilege audit tests, compiled only into test builds
// (meson -Dtest_hooks=true; ./dev builds that way). A release build has none: TestHook() is then
// always false. Jails only.
#ifndef KEEPFTPD_SRC_TEST_HOOKS_H_
#define KEEPFTPD_SRC_TEST_HOOKS_H_

#include <string_view>

namespace keepftpd {

// XKFTPDFORBIDDEN: makes a system call no jail's seccomp policy allows (ptrace), so that a test
// can see the jail stopped and the violation logged. Returns true when verb was a test hook
// (and the jail is still alive, which only happens with seccomp_sandbox=NO).
bool TestHook(std::string_view verb);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_TEST_HOOKS_H_
