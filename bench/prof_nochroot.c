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

// Valgrind 3.19 does not know the seccomp syscall (ENOSYS), so a jail's filter cannot be loaded
// under it. seccomp_load() here generates the filter's BPF exactly as the real one does (the
// instructions counted are libseccomp's), writes it to /dev/null and reports success; the
// kernel's part (attaching 40-odd BPF instructions) is left out.
#include <fcntl.h>
#include <seccomp.h>
#include <unistd.h>

int seccomp_load(const scmp_filter_ctx ctx) {
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = seccomp_export_bpf(ctx, fd);
  close(fd);
  return rc;
}
