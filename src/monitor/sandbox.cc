// Installing the seccomp filters, compiled into BPF at build time from the allowlists in
// sandbox_policy.cc, by EnterJail and ConfineMonitor (jail_start.cc) as each process's last step
// into its jail. Anything a filter does not allow traps: the SIGSYS handler reports the call to
// the monitor (SECCOMP_REPORT) and ends the process before the call runs; the monitor logs a
// seccomp violation (sandbox.h).
#include "sandbox.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <iterator>
#include <span>
#include <vector>

#include "ipc_messages.h"
#include "sandbox_filters.h"

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

// Loads a copy of one of the filters compiled at build time (sandbox_filters.h), with what is
// known only now patched in (sandbox_policy.cc says what and why).
Status LoadFilter(std::span<const sock_filter> compiled, bool log_only,
                  const pid_t (*jails)[2] = nullptr) {
  std::vector<sock_filter> filter(compiled.begin(), compiled.end());
  for (sock_filter& insn : filter) {
    if (BPF_CLASS(insn.code) == BPF_RET && BPF_RVAL(insn.code) == BPF_K &&
        insn.k == SECCOMP_RET_TRAP && log_only) {
      insn.k = SECCOMP_RET_LOG;
    }
    for (int i = 0; i < 2 && jails != nullptr; ++i) {
      if (insn.code == (BPF_JMP | BPF_JEQ | BPF_K) && insn.k == seccomp_bpf::kPidMark[i]) {
        insn.k = static_cast<std::uint32_t>((*jails)[i]);
      }
    }
  }
  sock_fprog program = {static_cast<unsigned short>(filter.size()), filter.data()};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    return Status::FromErrno(errno, "PR_SET_SECCOMP");
  }
  return Status::Ok();
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

const char* SeccompCompiledWith() { return seccomp_bpf::kLibseccompVersion; }

const char* SyscallName(std::uint32_t nr) {
  return nr < std::size(seccomp_bpf::kSyscallNames) ? seccomp_bpf::kSyscallNames[nr] : nullptr;
}

Status InstallSandbox(SandboxKind kind, int report_fd, bool log_only) {
  g_report_fd = report_fd;
  if (Status s = CatchForbiddenSyscalls(); !s.ok()) return s;
  switch (kind) {
    case SandboxKind::kPrelogin: return LoadFilter(seccomp_bpf::kPrelogin, log_only);
    case SandboxKind::kSession: return LoadFilter(seccomp_bpf::kSession, log_only);
    case SandboxKind::kSessionWrite: return LoadFilter(seccomp_bpf::kSessionWrite, log_only);
    case SandboxKind::kTls: return LoadFilter(seccomp_bpf::kTls, log_only);
  }
  return Status::Error("no such sandbox kind");
}

Status InstallMonitorSandbox(const MonitorSandbox& policy) {
  // Its two jails' pids; with one jail, both slots name it (never 0 or -1: kill and wait4 take
  // those as "every process").
  pid_t jails[2] = {0, 0};
  int count = 0;
  for (pid_t child : policy.children) {
    if (child <= 0) continue;
    if (count == 2) return Status::Error("session monitor: more than two jails");
    jails[count++] = child;
  }
  if (count == 0) return Status::Error("session monitor: no jail");
  if (count == 1) jails[1] = jails[0];
  g_report_word = policy.report;
  if (Status s = CatchForbiddenSyscalls(); !s.ok()) return s;
  return LoadFilter(policy.chown_uploads ? std::span<const sock_filter>(seccomp_bpf::kSessionMonitorChown)
                                         : std::span<const sock_filter>(seccomp_bpf::kSessionMonitor),
                    policy.log_only, &jails);
}

}  // namespace keepftpd
