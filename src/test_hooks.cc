// Hidden commands for the privilege audit tests; empty in release builds. Jails only.
#include "test_hooks.h"

#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "build_config.h"

namespace keepftpd {

bool TestHook(std::string_view verb) {
#if KEEPFTPD_TEST_HOOKS
  if (verb == "XKFTPDFORBIDDEN") {
    syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
    return true;
  }
#else
  (void)verb;
#endif
  return false;
}

}  // namespace keepftpd
