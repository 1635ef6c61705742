// Profiling only (bench/profile.sh preloads this under valgrind, never otherwise):
//  - chroot() succeeds without changing the root, so that valgrind can write a jail's profile
//    when the jail exits;
//  - setrlimit() of RLIMIT_NOFILE and RLIMIT_AS succeeds without changing the limit: valgrind
//    refuses a new hard RLIMIT_NOFILE (EPERM) and needs far more address space than a jail allows.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/resource.h>

int chroot(const char* path) {
  (void)path;
  return 0;
}

int setrlimit(__rlimit_resource_t resource, const struct rlimit* rl) {
  if (resource == RLIMIT_NOFILE || resource == RLIMIT_AS) return 0;
  int (*real)(__rlimit_resource_t, const struct rlimit*) =
      (int (*)(__rlimit_resource_t, const struct rlimit*))dlsym(RTLD_NEXT, "setrlimit");
  return real(resource, rl);
}

// (What programs built with -D_FILE_OFFSET_BITS=64 call.)
int setrlimit64(__rlimit_resource_t resource, const struct rlimit64* rl) {
  if (resource == RLIMIT_NOFILE || resource == RLIMIT_AS) return 0;
  int (*real)(__rlimit_resource_t, const struct rlimit64*) =
      (int (*)(__rlimit_resource_t, const struct rlimit64*))dlsym(RTLD_NEXT, "setrlimit64");
  return real(resource, rl);
}

// Valgrind 3.19 cannot run under a seccomp filter (its own calls would be stopped), so a jail's
// filter is not loaded under it: prctl(PR_SET_SECCOMP) reports success and does nothing. The
// filters are compiled into keepftpd when it is built; copying and patching one is counted, the
// kernel's part (attaching and JIT-compiling it) is left out.
#include <linux/seccomp.h>
#include <stdarg.h>
#include <sys/prctl.h>

int prctl(int option, ...) {
  va_list ap;
  va_start(ap, option);
  unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
  unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
  va_end(ap);
  if (option == PR_SET_SECCOMP && a2 == SECCOMP_MODE_FILTER) return 0;
  int (*real)(int, ...) = (int (*)(int, ...))dlsym(RTLD_NEXT, "prctl");
  return real(option, a2, a3, a4, a5);
}
