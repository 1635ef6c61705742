// The physical floor for session setup with keepftpd's fixed process shape (DESIGN.md): a
// per-connection "server" started exactly like keepftpd (systemd-socket-activate --inetd, the
// connection on fd 0/1) that does what the shape makes the kernel do for one anonymous session,
// and nothing else. Linked statically: no dynamic loading, no configuration, no FTP parser, no
// logging, no capability sets. What it costs is the shape's price, paid by any implementation.
//
//   shape_floor EMPTY_DIR SESSION_ROOT UID GID
//
// The seccomp filters are keepftpd's own, as its build compiled them (sandbox_filters.h, from
// the build directory's src/monitor/): the kernel attaches, JIT-compiles and runs exactly what
// it does for keepftpd.
// 1. The monitor (this process, root) makes a channel and clones the pre-login jail into new
//    network, PID and IPC namespaces.
// 2. The pre-login jail chroots into EMPTY_DIR, takes UID/GID, sets no_new_privs, not dumpable,
//    a parent-death signal, and loads keepftpd's pre-login filter. It writes the 220, answers
//    USER with 331, tells the monitor at PASS and exits.
// 3. The monitor forks the session's monitor, which forks the session jail, then confines
//    itself as keepftpd's does (DESIGN.md): chroot into EMPTY_DIR, UID/GID, no_new_privs, not
//    dumpable, and keepftpd's session-monitor filter with the jail's pid patched in; it waits on
//    its channel until the jail is gone.
// 4. The session jail chroots into SESSION_ROOT, takes UID/GID, no_new_privs, and loads
//    keepftpd's session filter. It answers 230, then PWD with 257, QUIT with 221 and anything
//    else (NOOP) with 200; after QUIT every process exits in turn and the connection closes.
//
// bench/run.sh also builds it dynamically linked against keepftpd's own shared libraries
// (loaded, never called), to show what loading them costs in this shape.
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "sandbox_filters.h"

namespace {

[[noreturn]] void Fail() { _exit(1); }

// One of keepftpd's compiled filters; the session monitor's with the session jail's pid in both of
// the marks, as keepftpd's sandbox.cc patches it for a session without a TLS jail.
void LoadFilter(std::span<const sock_filter> compiled, pid_t jail = 0) {
  std::vector<sock_filter> prog(compiled.begin(), compiled.end());
  for (sock_filter& insn : prog) {
    for (std::uint32_t mark : keepftpd::seccomp_bpf::kPidMark) {
      if (jail != 0 && insn.code == (BPF_JMP | BPF_JEQ | BPF_K) && insn.k == mark) {
        insn.k = static_cast<std::uint32_t>(jail);
      }
    }
  }
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) != 0) Fail();
}

void TakeIds(uid_t uid, gid_t gid) {
  if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
      setresuid(uid, uid, uid) != 0)
    Fail();
}

void EnterJail(const char* root, uid_t uid, gid_t gid, std::span<const sock_filter> filter) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) Fail();
  if (chroot(root) != 0 || chdir("/") != 0) Fail();
  TakeIds(uid, gid);
  if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Fail();
  LoadFilter(filter);
}

void Say(std::string_view line) {
  if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) Fail();
}

// Reads one command line (the client sends the next only after a reply, so a read ends at it)
// and returns its first four bytes.
std::string_view Hear() {
  static char buf[512];
  size_t got = 0;
  while (got == 0 || buf[got - 1] != '\n') {
    ssize_t n = read(0, buf + got, sizeof buf - got);
    if (n <= 0 || (got += static_cast<size_t>(n)) == sizeof buf) Fail();
  }
  return std::string_view(buf, got < 4 ? got : 4);
}

void Reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) Fail();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  const char* empty = argv[1];
  const char* session_root = argv[2];
  const auto uid = static_cast<uid_t>(std::atoi(argv[3]));
  const auto gid = static_cast<gid_t>(std::atoi(argv[4]));

  int channel[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) Fail();
  long pid = syscall(SYS_clone, CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | SIGCHLD, nullptr,
                     nullptr, nullptr, 0);
  if (pid < 0) Fail();
  if (pid == 0) {  // pre-login jail
    close(channel[0]);
    EnterJail(empty, uid, gid, keepftpd::seccomp_bpf::kPrelogin);
    Say("220 ready\r\n");
    Hear();
    Say("331 Please specify the password.\r\n");
    Hear();
    if (write(channel[1], "L", 1) != 1) Fail();
    _exit(0);
  }
  close(channel[1]);
  char login;
  if (read(channel[0], &login, 1) != 1) Fail();
  Reap(static_cast<pid_t>(pid));
  close(channel[0]);

  pid_t session_monitor = fork();
  if (session_monitor < 0) Fail();
  if (session_monitor == 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) Fail();
    pid_t jail = fork();
    if (jail < 0) Fail();
    if (jail == 0) {  // session jail
      close(channel[0]);
      EnterJail(session_root, uid, gid, keepftpd::seccomp_bpf::kSession);
      Say("230 Login successful.\r\n");
      for (std::string_view command = Hear(); command != "QUIT"; command = Hear())
        Say(command == "PWD\r" ? "257 \"/\" is the current directory\r\n" : "200 OK\r\n");
      Say("221 Goodbye.\r\n");
      _exit(0);
    }
    close(channel[1]);
    if (chroot(empty) != 0 || chdir("/") != 0) Fail();
    TakeIds(uid, gid);
    if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Fail();
    LoadFilter(keepftpd::seccomp_bpf::kSessionMonitor, jail);
    char byte;
    while (read(channel[0], &byte, 1) > 0) {
    }
    Reap(jail);
    _exit(0);
  }
  Reap(session_monitor);
  return 0;
}
