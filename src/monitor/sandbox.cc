// Seccomp allowlists per jail kind (libseccomp), installed by EnterJail (jail_start.cc) as each
// jail's last step into its jail.
// Each line allows one syscall and says who needs it. Everything else traps: the SIGSYS handler
// reports the call to the monitor (SECCOMP_REPORT) and ends the process before the call runs;
// the monitor logs a seccomp violation (sandbox.h).
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "ipc_messages.h"
#include "jail_start.h"

namespace keepftpd {

namespace {

int g_report_fd = -1;
volatile std::uint32_t* g_report_word = nullptr;  // the session's monitor: shared with the keeper

// SIGSYS from the filter: tell the monitor (or, in the session's monitor, the keeper) which
// syscall it was, then leave. Async-signal-safe: the message is built on the stack and sent
// with one raw syscall the filter allows.
void OnForbiddenSyscall(int, siginfo_t* info, void*) {
  auto nr = static_cast<std::uint32_t>(info->si_syscall);
  if (g_report_word != nullptr) {
    *g_report_word = nr + 1;
    syscall(SYS_exit_group, kSeccompExitStatus);
  }
  auto type = static_cast<std::uint16_t>(MsgType::kSeccompReport);
  char message[6] = {static_cast<char>(type & 0xff), static_cast<char>(type >> 8),
                     static_cast<char>(nr & 0xff),   static_cast<char>((nr >> 8) & 0xff),
                     static_cast<char>((nr >> 16) & 0xff), static_cast<char>(nr >> 24)};
  syscall(SYS_sendto, g_report_fd, message, sizeof(message), MSG_NOSIGNAL, nullptr, 0);
  syscall(SYS_exit_group, kSeccompExitStatus);
}

class Filter {
 public:
  explicit Filter(bool log_only)
      : ctx_(seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_TRAP)) {}
  ~Filter() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  void Allow(int nr) { Add(nr, 0, nullptr); }
  void Allow(int nr, scmp_arg_cmp a) { Add(nr, 1, &a); }
  void Allow(int nr, scmp_arg_cmp a, scmp_arg_cmp b) {
    scmp_arg_cmp args[2] = {a, b};
    Add(nr, 2, args);
  }
  // Fails the call with errno instead of killing: for probes libc makes that we can refuse.
  void Refuse(int nr, int err) {
    if (rc_ == 0) rc_ = seccomp_rule_add(ctx_, SCMP_ACT_ERRNO(static_cast<unsigned>(err)), nr, 0);
  }
  void Refuse(int nr, int err, scmp_arg_cmp a) {
    if (rc_ == 0) {
      rc_ = seccomp_rule_add(ctx_, SCMP_ACT_ERRNO(static_cast<unsigned>(err)), nr, 1, a);
    }
  }

  Status Load() {
    if (ctx_ == nullptr) return Status::Error("seccomp_init failed");
    if (rc_ != 0) return Status::FromErrno(-rc_, "seccomp_rule_add");
    int rc = seccomp_load(ctx_);
    if (rc != 0) return Status::FromErrno(-rc, "seccomp_load");
    return Status::Ok();
  }

 private:
  void Add(int nr, unsigned count, const scmp_arg_cmp* args) {
    if (rc_ == 0) rc_ = seccomp_rule_add_array(ctx_, SCMP_ACT_ALLOW, nr, count, args);
  }
  scmp_filter_ctx ctx_;
  int rc_ = 0;
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

Status CatchForbiddenSyscalls() {
  struct sigaction sa = {};
  sa.sa_sigaction = OnForbiddenSyscall;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) return Status::FromErrno(errno, "sigaction(SIGSYS)");
  sigset_t sys;
  sigemptyset(&sys);
  sigaddset(&sys, SIGSYS);
  sigprocmask(SIG_UNBLOCK, &sys, nullptr);
  return Status::Ok();
}

}  // namespace

Status InstallSandbox(SandboxKind kind, int report_fd, bool log_only) {
  g_report_fd = report_fd;
  if (Status s = CatchForbiddenSyscalls(); !s.ok()) return s;
  Filter f(log_only);
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
  return f.Load();
}

Status InstallMonitorSandbox(const MonitorSandbox& policy) {
  g_report_word = policy.report;
  if (Status s = CatchForbiddenSyscalls(); !s.ok()) return s;
  Filter f(policy.log_only);
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
  // The session's jails only: the session jail (its child), ended with SIGKILL and reaped, and
  // the TLS jail (the keeper's child, of another uid: the same calls fail there, harmlessly).
  for (pid_t child : policy.children) {
    if (child <= 0) continue;
    f.Allow(SCMP_SYS(kill), SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(child)),
            SCMP_A1(SCMP_CMP_EQ, SIGKILL));
    f.Allow(SCMP_SYS(wait4), SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(child)));
  }
  if (policy.chown_uploads) {
    f.Allow(SCMP_SYS(fstat));        // CHOWN_UPLOAD: a regular file of the anonymous account
    f.Allow(SCMP_SYS(newfstatat), SCMP_A3(SCMP_CMP_EQ, AT_EMPTY_PATH));  // fstat, newer glibc
    f.Allow(SCMP_SYS(statx), SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));  // birth time
    f.Allow(SCMP_SYS(fchmod));       // chown_upload_mode
    f.Allow(SCMP_SYS(fchown));       // chown_username (CAP_CHOWN)
  }
  return f.Load();
}

}  // namespace keepftpd
