// The seccomp allowlists, compiled into BPF when keepftpd is built. This program (run by the
// build, never installed) builds each policy with libseccomp and prints sandbox_filters.h;
// sandbox.cc loads those arrays as they are, so no jail and no session monitor runs libseccomp.
// Building the filters in every process was about a third of a plain session's instructions
// (bench/README.md, "Profiles").
//
// Each line allows one syscall and says who needs it. Everything else traps: the SIGSYS handler
// reports the call (sandbox.h). What a process learns only at run time is patched into its copy
// of the filter by sandbox.cc:
//  - seccomp_log_only: every "return TRAP" becomes "return LOG". TRAP is only ever the default
//    action here (no rule traps), so that is exactly a filter built with SCMP_ACT_LOG.
//  - the session monitor's jails: its kill and wait4 rules compare the pid with kPidMark[i], a
//    number no pid can be (pid_max is at most 2^22), which sandbox.cc replaces with the pid.
// Before printing a filter, this program checks both: every return is ALLOW, TRAP, ERRNO or the
// wrong-architecture kill, and each mark appears exactly where the rules put it.
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sandbox.h"

namespace keepftpd {
namespace {

// The session monitor's two jails (the session jail and the TLS jail), as placeholders.
constexpr std::uint32_t kPidMark[2] = {0x7eed0001, 0x7eed0002};

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "sandbox_policy: %s\n", what.c_str());
  std::exit(1);
}

class Filter {
 public:
  Filter() : ctx_(seccomp_init(SCMP_ACT_TRAP)) {
    if (ctx_ == nullptr) Fail("seccomp_init failed");
  }
  ~Filter() { seccomp_release(ctx_); }
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  void Allow(int nr) { Add(SCMP_ACT_ALLOW, nr, 0, nullptr); }
  void Allow(int nr, scmp_arg_cmp a) { Add(SCMP_ACT_ALLOW, nr, 1, &a); }
  void Allow(int nr, scmp_arg_cmp a, scmp_arg_cmp b) {
    scmp_arg_cmp args[2] = {a, b};
    Add(SCMP_ACT_ALLOW, nr, 2, args);
  }
  // Fails the call with errno instead of killing: for probes libc makes that we can refuse.
  void Refuse(int nr, int err, scmp_arg_cmp a) {
    Add(SCMP_ACT_ERRNO(static_cast<unsigned>(err)), nr, 1, &a);
  }

  // The BPF libseccomp makes of the rules (read back through a memfd).
  std::vector<sock_filter> Bpf() const {
    int fd = memfd_create("bpf", MFD_CLOEXEC);
    if (fd < 0) Fail(std::string("memfd_create: ") + std::strerror(errno));
    if (int rc = seccomp_export_bpf(ctx_, fd); rc != 0) Fail("seccomp_export_bpf failed");
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % sizeof(sock_filter) != 0) Fail("seccomp_export_bpf: odd size");
    std::vector<sock_filter> bpf(static_cast<std::size_t>(size) / sizeof(sock_filter));
    if (pread(fd, bpf.data(), static_cast<std::size_t>(size), 0) != size) Fail("reading the BPF");
    close(fd);
    return bpf;
  }

 private:
  void Add(std::uint32_t action, int nr, unsigned count, const scmp_arg_cmp* args) {
    if (int rc = seccomp_rule_add_array(ctx_, action, nr, count, args); rc != 0) {
      Fail("seccomp_rule_add for syscall " + std::to_string(nr) + ": " + std::strerror(-rc));
    }
  }
  scmp_filter_ctx ctx_;
};

// What every jail needs to run C++ at all, talk on its sockets and leave.
void AllowCommon(Filter& f) {
  f.Allow(SCMP_SYS(exit_group));       // leaving
  f.Allow(SCMP_SYS(exit));             // leaving (thread exit from libc paths)
  f.Allow(SCMP_SYS(rt_sigreturn));     // return from a signal handler
  f.Allow(SCMP_SYS(restart_syscall));  // the kernel restarting an interrupted poll
  f.Allow(SCMP_SYS(brk));              // malloc
  f.Allow(SCMP_SYS(mmap), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));      // malloc, no code
  f.Allow(SCMP_SYS(mprotect), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));  // malloc, no code
  f.Allow(SCMP_SYS(munmap));           // free
  f.Allow(SCMP_SYS(mremap));           // realloc of large blocks
  f.Allow(SCMP_SYS(madvise));          // free() trimming
  f.Allow(SCMP_SYS(futex));            // libstdc++ static-init guards
  f.Allow(SCMP_SYS(clock_gettime));    // timestamps (when the vDSO falls back)
  f.Allow(SCMP_SYS(gettimeofday));     // time() fallback
  f.Allow(SCMP_SYS(getpid));           // abort() paths
  f.Allow(SCMP_SYS(poll));             // waiting on the control and data connections
  f.Allow(SCMP_SYS(ppoll));            // glibc may implement poll with ppoll
  f.Allow(SCMP_SYS(close));            // closing descriptors we own
  f.Allow(SCMP_SYS(sendmsg));          // requests and log records to the monitor
  f.Allow(SCMP_SYS(recvmsg));          // answers from the monitor (descriptors ride here)
  f.Allow(SCMP_SYS(sendto));           // replies on the control connection (send)
  f.Allow(SCMP_SYS(recvfrom));         // commands on the control connection (recv, MSG_PEEK)
  f.Allow(SCMP_SYS(write));            // replies, data
  f.Allow(SCMP_SYS(read));             // data
}

// Sanitizer builds only (never release builds): what AddressSanitizer's and
// UndefinedBehaviorSanitizer's runtimes call on their own, and what they need to report.
void AllowSanitizerRuntime(Filter& f) {
#if KEEPFTPD_SANITIZED
  f.Allow(SCMP_SYS(sigaltstack));
  f.Allow(SCMP_SYS(rt_sigaction));
  f.Allow(SCMP_SYS(rt_sigprocmask));
  f.Allow(SCMP_SYS(sched_yield));
  f.Allow(SCMP_SYS(getrlimit));
  f.Allow(SCMP_SYS(prlimit64));
  f.Allow(SCMP_SYS(gettid));
  f.Allow(SCMP_SYS(tgkill));
  f.Allow(SCMP_SYS(readlink));
  f.Allow(SCMP_SYS(readlinkat));
  f.Allow(SCMP_SYS(openat), SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY));
  f.Allow(SCMP_SYS(newfstatat));
  f.Allow(SCMP_SYS(lseek));
  f.Allow(SCMP_SYS(pread64));
  f.Allow(SCMP_SYS(getdents64));
#else
  (void)f;
#endif
}

void AllowJail(Filter& f, SandboxKind kind) {
  AllowCommon(f);
  AllowSanitizerRuntime(f);
  if (kind == SandboxKind::kPrelogin) {
    // AUTH TLS: the plaintext end of the TLS jail takes the control connection's number.
    f.Allow(SCMP_SYS(dup2));
    f.Allow(SCMP_SYS(dup3), SCMP_A2(SCMP_CMP_EQ, 0));
  }
  if (kind == SandboxKind::kTls) {
    f.Allow(SCMP_SYS(socketpair), SCMP_A0(SCMP_CMP_EQ, AF_UNIX));  // plaintext data streams
    f.Allow(SCMP_SYS(shutdown));        // the end of a stream, passed on
    f.Allow(SCMP_SYS(setsockopt), SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
            SCMP_A2(SCMP_CMP_EQ, SO_SNDBUF));  // data socket pairs' buffers
    f.Allow(SCMP_SYS(fcntl), SCMP_A1(SCMP_CMP_EQ, F_GETFL));  // non-blocking sockets
    f.Allow(SCMP_SYS(fcntl), SCMP_A1(SCMP_CMP_EQ, F_SETFL));
    f.Allow(SCMP_SYS(getrandom));       // OpenSSL: keys, nonces, padding
  }
  if (kind == SandboxKind::kSession) {
    // Read-only file access inside the chroot: no write, create, truncate or tmpfile flags
    // (only the tmpfile bit: glibc's O_TMPFILE and __O_TMPFILE both include O_DIRECTORY).
    f.Allow(SCMP_SYS(openat),
            SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | (__O_TMPFILE & ~O_DIRECTORY),
                    0));
  } else if (kind == SandboxKind::kSessionWrite) {
    // write_enable: files may be created and written (never as O_TMPFILE), and the calls that
    // change names and modes are allowed, all confined by the chroot and the user's permissions.
    f.Allow(SCMP_SYS(openat), SCMP_A2(SCMP_CMP_MASKED_EQ, __O_TMPFILE & ~O_DIRECTORY, 0));
    f.Allow(SCMP_SYS(unlinkat));        // DELE, RMD, failed uploads, stale upload files
    f.Allow(SCMP_SYS(mkdirat));         // MKD
    f.Allow(SCMP_SYS(renameat2));       // an upload put in place without overwriting
    f.Allow(SCMP_SYS(renameat));        // RNFR/RNTO, an upload put in place (glibc: renameat2, flags 0)
    f.Allow(SCMP_SYS(linkat), SCMP_A4(SCMP_CMP_EQ, 0));  // the same on NFS, CephFS (no flags)
    f.Allow(SCMP_SYS(fchmodat));        // SITE CHMOD
    f.Allow(SCMP_SYS(fsync));           // an upload is on disk before its 226
    f.Allow(SCMP_SYS(sync_file_range)); // an upload's writeback starts during the transfer
    f.Allow(SCMP_SYS(ftruncate));       // STOR in place: truncate once the write lock is held
    f.Allow(SCMP_SYS(flock));           // upload files in use are not stale
    f.Allow(SCMP_SYS(umask));           // SITE UMASK
    f.Allow(SCMP_SYS(getrandom));       // names of upload files
    f.Allow(SCMP_SYS(utimensat));       // MFMT, MDTM with a time
  }
  if (kind == SandboxKind::kSession || kind == SandboxKind::kSessionWrite) {
    f.Allow(SCMP_SYS(newfstatat));      // stat, lstat, fstat
    f.Allow(SCMP_SYS(fstat));           // fstat on older paths of libc
    f.Allow(SCMP_SYS(statx));           // libstdc++ may prefer statx
    f.Allow(SCMP_SYS(getdents64));      // directory listings
    f.Allow(SCMP_SYS(readlinkat));      // symlink targets in LIST
    f.Allow(SCMP_SYS(readlink));        // same, older entry point
    f.Allow(SCMP_SYS(lseek));           // REST, directory rewinds
    f.Allow(SCMP_SYS(pread64));         // ASCII-mode reads at an offset
    f.Allow(SCMP_SYS(sendfile));        // binary downloads
    f.Allow(SCMP_SYS(shutdown));        // ending a data connection cleanly
    f.Allow(SCMP_SYS(fcntl), SCMP_A1(SCMP_CMP_EQ, F_GETFL));  // data socket flags
    f.Allow(SCMP_SYS(fcntl), SCMP_A1(SCMP_CMP_EQ, F_SETFL));  // data socket non-blocking
    f.Allow(SCMP_SYS(fcntl), SCMP_A1(SCMP_CMP_EQ, F_SETLKW));  // lock_upload_files
    f.Allow(SCMP_SYS(fcntl), SCMP_A1(SCMP_CMP_EQ, F_SETFD),
            SCMP_A2(SCMP_CMP_EQ, FD_CLOEXEC));                  // glibc's fdopendir
    f.Allow(SCMP_SYS(chdir));           // CWD (the chroot confines it)
    f.Allow(SCMP_SYS(getuid));          // MLSx perm facts: whose bits apply
    f.Allow(SCMP_SYS(getgid));          // same
    f.Allow(SCMP_SYS(nanosleep));       // brief waits while a partial ABOR line arrives
    f.Allow(SCMP_SYS(clock_nanosleep)); // same, newer libc
  }
}

// The session's monitor after login: what serving the session jail's requests needs, and no
// file system call at all (it is chrooted into an empty directory, and everything it writes to
// was opened before).
void AllowSessionMonitor(Filter& f, bool chown_uploads) {
  AllowCommon(f);  // its requests, answers and log records; write(): the transfer logs
  AllowSanitizerRuntime(f);
  // PASV: a listener in the control connection's family; PORT: a connection from it.
  for (int family : {AF_INET, AF_INET6}) {
    f.Allow(SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family)),
            SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
  }
  // glibc's syslog() reconnects to /dev/log after an error: refused (the chroot hides it).
  f.Refuse(SCMP_SYS(socket), EACCES, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
  f.Allow(SCMP_SYS(setsockopt), SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
          SCMP_A2(SCMP_CMP_EQ, SO_REUSEADDR));  // passive ports, connect_from_port_20
  f.Allow(SCMP_SYS(setsockopt), SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP),
          SCMP_A2(SCMP_CMP_EQ, TCP_NODELAY));   // data connections handed to the TLS jail
  f.Allow(SCMP_SYS(getsockopt), SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
          SCMP_A2(SCMP_CMP_EQ, SO_ERROR));      // PORT: did the connection succeed
  f.Allow(SCMP_SYS(bind));           // PASV listener, PORT's local address
  f.Allow(SCMP_SYS(listen));         // PASV
  f.Allow(SCMP_SYS(accept4));        // PASV: the client's data connection
  f.Allow(SCMP_SYS(connect));        // PORT: to the client (checked by the handler)
  f.Allow(SCMP_SYS(getsockname));    // PASV: the port bound
  f.Allow(SCMP_SYS(getpeername));    // PASV: who connected
  f.Allow(SCMP_SYS(getrandom));      // PASV: where in the port range to start
  f.Allow(SCMP_SYS(nanosleep));      // waiting for a leaving jail to become reapable
  f.Allow(SCMP_SYS(clock_nanosleep));  // same, newer libc
  // The session's jails only (their pids patched in at run time): the session jail (its child),
  // ended with SIGKILL and reaped, and the TLS jail (the keeper's child, of another uid: the same
  // calls fail there, harmlessly).
  for (std::uint32_t mark : kPidMark) {
    f.Allow(SCMP_SYS(kill), SCMP_A0(SCMP_CMP_EQ, mark), SCMP_A1(SCMP_CMP_EQ, SIGKILL));
    f.Allow(SCMP_SYS(wait4), SCMP_A0(SCMP_CMP_EQ, mark));
  }
  if (chown_uploads) {
    f.Allow(SCMP_SYS(fstat));        // CHOWN_UPLOAD: a regular file of the anonymous account
    f.Allow(SCMP_SYS(newfstatat), SCMP_A3(SCMP_CMP_EQ, AT_EMPTY_PATH));  // fstat, newer glibc
    f.Allow(SCMP_SYS(statx), SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));  // birth time
    f.Allow(SCMP_SYS(fchmod));       // chown_upload_mode
    f.Allow(SCMP_SYS(fchown));       // chown_username (CAP_CHOWN)
  }
}

// What sandbox.cc's patching relies on: TRAP only as a return, and each mark only in the two
// comparisons (kill, wait4) the rules make for it, or not at all.
void Check(const char* name, const std::vector<sock_filter>& bpf, int marks_expected) {
  int marks[2] = {0, 0};
  for (const sock_filter& insn : bpf) {
    const bool ret = BPF_CLASS(insn.code) == BPF_RET && BPF_RVAL(insn.code) == BPF_K;
    const bool jeq = insn.code == (BPF_JMP | BPF_JEQ | BPF_K);
    if (ret) {
      std::uint32_t action = insn.k & SECCOMP_RET_ACTION_FULL;
      if (action != SECCOMP_RET_ALLOW && action != SECCOMP_RET_TRAP &&
          action != SECCOMP_RET_ERRNO && action != SECCOMP_RET_KILL_THREAD &&
          action != SECCOMP_RET_KILL_PROCESS) {
        Fail(std::string(name) + ": unexpected return " + std::to_string(insn.k));
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (insn.k != kPidMark[i]) continue;
      if (!jeq) Fail(std::string(name) + ": a pid mark outside a comparison");
      ++marks[i];
    }
  }
  for (int count : marks) {
    if (count != marks_expected) {
      Fail(std::string(name) + ": a pid mark appears " + std::to_string(count) +
           " times, not " + std::to_string(marks_expected));
    }
  }
}

void Print(const char* name, const std::vector<sock_filter>& bpf) {
  std::printf("inline constexpr sock_filter %s[] = {\n", name);
  for (const sock_filter& insn : bpf) {
    std::printf("    {0x%04x, %u, %u, 0x%08x},\n", insn.code, insn.jt, insn.jf, insn.k);
  }
  std::printf("};\n\n");
}

}  // namespace
}  // namespace keepftpd

int main() {
  using namespace keepftpd;
  const scmp_version* v = seccomp_version();
  std::printf(
      "// Generated when keepftpd is built, by sandbox_policy (src/monitor/sandbox_policy.cc)\n"
      "// with libseccomp %u.%u.%u: the seccomp filters as BPF. Do not edit.\n"
      "#include <linux/filter.h>\n\n"
      "#include <cstdint>\n\n"
      "namespace keepftpd::seccomp_bpf {\n\n"
      "inline constexpr char kLibseccompVersion[] = \"%u.%u.%u\";\n"
      "inline constexpr std::uint32_t kPidMark[2] = {0x%08x, 0x%08x};\n\n",
      v->major, v->minor, v->micro, v->major, v->minor, v->micro, kPidMark[0], kPidMark[1]);
  const struct {
    const char* name;
    SandboxKind kind;
  } jails[] = {{"kPrelogin", SandboxKind::kPrelogin},
               {"kSession", SandboxKind::kSession},
               {"kSessionWrite", SandboxKind::kSessionWrite},
               {"kTls", SandboxKind::kTls}};
  for (const auto& jail : jails) {
    Filter f;
    AllowJail(f, jail.kind);
    std::vector<sock_filter> bpf = f.Bpf();
    Check(jail.name, bpf, 0);
    Print(jail.name, bpf);
  }
  for (bool chown_uploads : {false, true}) {
    const char* name = chown_uploads ? "kSessionMonitorChown" : "kSessionMonitor";
    Filter f;
    AllowSessionMonitor(f, chown_uploads);
    std::vector<sock_filter> bpf = f.Bpf();
    Check(name, bpf, 2);
    Print(name, bpf);
  }
  // The native architecture's syscall names, for the monitor's log of a violation.
  int last = -1;
  for (int nr = 0; nr < 4096; ++nr) {
    if (char* known = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr); known != nullptr) {
      last = nr;
      std::free(known);
    }
  }
  std::printf("inline constexpr const char* kSyscallNames[%d] = {\n", last + 1);
  for (int nr = 0; nr <= last; ++nr) {
    char* known = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    std::printf("    %s%s%s,  // %d\n", known ? "\"" : "", known ? known : "nullptr",
                known ? "\"" : "", nr);
    std::free(known);
  }
  std::printf("};\n\n");
  std::printf("}  // namespace keepftpd::seccomp_bpf\n");
  return std::fflush(stdout) == 0 ? 0 : 1;
}
