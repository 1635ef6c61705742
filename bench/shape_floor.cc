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
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

#include "shape_floor.h"

using shape::EnterJail;
using shape::Fail;
using shape::Reap;

namespace {

void Say(std::string_view line) { shape::Say(1, line); }
std::string_view Hear() { return shape::Hear(0); }

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

  pid_t session_monitor = shape::StartSession(empty, session_root, uid, gid, 0, -1);
  Reap(session_monitor);
  return 0;
}
