// The privileged monitor of one connection. Monitor process only, and the forked child of each
// jail until it calls EnterJail (jail_start.h) and the jail's entry point.
//
// Privileges by phase:
//  - start: root with every capability; clones the pre-login jail into new network, IPC and PID
//    namespaces (isolate_network, isolate), which needs CAP_SYS_ADMIN;
//  - pre-login: root's uid, capabilities trimmed to what starting the session jail needs
//    (CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT, CAP_SETPCAP, CAP_KILL), bounding set the same;
//  - session: the privileged monitor forks the session's monitor and sleeps in waitpid() as the
//    keeper. The session's monitor starts the session jail, then takes the session user's uid
//    and gid with no capabilities at all (CAP_CHOWN alone for an anonymous session with
//    chown_uploads: its only privileged request), no_new_privs and not dumpable; it relays data connections and log records. The keeper reads nothing
//    but that child's exit status: kReinExit (the client sent REIN) makes it start a new
//    pre-login jail, anything else ends the connection.
//    The session's monitor has the session jail's uid because the kernel delivers the jail's
//    parent-death signal with the dying parent's credentials: with any other uid the jail would
//    outlive it. The jail can neither signal it (seccomp) nor trace it (not dumpable).
//
// It forks the jails, then reads their messages one at a time, each through Dispatch: its row of
// monitor_requests.def admits it or ends the connection (AdmitRequest: the phase, the body's
// size, a descriptor, how often, the body's decoder) and names its handler, which gets the
// decoded request and re-checks the policy itself: nothing a jail says is trusted. When a
// jail's channel closes the jail is reaped; the connection ends unless that was the planned
// hand-over after a login or a REIN.
#include "monitor.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "auth.h"
#include "build_config.h"
#include "ipc.h"
#include "tls.h"
#include "proctitle.h"
#include "jail_start.h"
#include "log.h"
#include "login_rules.h"
#include "login_state.h"
#include "monitor_table.h"
#include "postlogin.h"
#include "prelogin.h"
#include "requests.h"
#include "strutil.h"
#include "unique_fd.h"
#include "uwtmp.h"

namespace keepftpd {

namespace {

constexpr int kHandOverMs = 5000;  // how long a jail may take to exit after handing over

// Counts a jail reports are added without overflow: a total (never negative) stops at the
// largest value rather than wrapping to a negative one.
std::int64_t AddCapped(std::int64_t total, std::uint64_t n) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  if (n >= static_cast<std::uint64_t>(kMax - total)) return kMax;
  return total + static_cast<std::int64_t>(n);
}

struct Monitor {
  const Config* main_config = nullptr;  // the configuration file's
  std::optional<Config> user_config;   // main + user_config_dir/USER, once a login applied it
  // What applies now: the user's settings after a login that had them, else the main ones.
  const Config& config() const { return user_config ? *user_config : *main_config; }
  SessionInfo* session = nullptr;  // control_fd becomes TLS's plaintext end, peer PROXY's client
  Phase phase = Phase::kPrelogin;  // of the protocol jail's channel
  Phase from = Phase::kPrelogin;   // the request being handled came in this phase
  Admissions admissions;           // what the request rules have let through so far
  pid_t child = -1;
  const char* child_name = "prelogin";
  UniqueFd channel;
  UniqueFd pasv_listener;
  bool privileged = true;          // false once the monitor gave up root for the session user
  unsigned login_fails = 0;
  // Who the session jail runs as, and where: set by a LOGIN (prot_private: PROT P came before
  // it). The SessionUser part is what the session jail is told.
  struct Account : SessionUser {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // local users: their supplementary groups
    std::string root;           // chroot here ("/" for local users who are not chrooted)
    bool check_writable_root = true;
  } account;
  std::optional<std::uint32_t> violation;  // the call the jail's SECCOMP_REPORT named
  enum class Next { kEnd, kSession, kPrelogin } next = Next::kEnd;
  // FTPS: the TLS jail, a child of the pre-login monitor.
  struct TlsJail {
    bool active = false;  // the control connection is the TLS jail's plaintext end
    // The TLS jail builds its context before it enters its jail and says whether it could
    // (TLS_READY); it touches the client's connection only after TLS_START.
    enum class State { kNone, kStarting, kReady, kFailed } state = State::kNone;
    std::string error;     // why it could not start (kFailed)
    UniqueFd plain;        // the plaintext end for the protocol jails, until TLS_START
    pid_t pid = -1;
    UniqueFd channel;      // its requests and log records
    UniqueFd pending_data; // the raw data connection kept for the next TLS_DATA
    int data_ends = 0;     // TLS_DATA_END reports not yet asked for by TLS_DATA_STATUS
    std::uint8_t last_flags = 0;
    std::optional<std::string> wrap_message;  // the TLS_WRAP_RESULT's, once it came
    UniqueFd wrap_plain;                      // and its plaintext end
  } tls;
  bool data_cancelled = false;  // DATA_CANCEL came while waiting for a passive connection
  // The session's totals, for the session-end record; they stop at the largest value.
  struct Transfers {
    std::int64_t files = 0, bytes = 0;
    void Add(std::uint64_t n, bool ok) {
      bytes = AddCapped(bytes, n);
      files = AddCapped(files, ok ? 1 : 0);
    }
    std::string Said() const {
      return std::to_string(files) + " files (" + std::to_string(bytes) + " bytes)";
    }
  } in, out;
  long started_ms = 0;
  std::int64_t started_realtime = 0;  // seconds: CHOWN_UPLOAD takes only files born after it
  // session_support: the PAM handle of a local login, kept for its session (its PAM session and
  // the utmp/wtmp records, opened at every login then, are closed by the keeper at the end).
  pam_handle_t* pam = nullptr;
  bool pasv_resolved = false;         // pasv_addr_resolve: pasv_address looked up
  std::uint8_t pasv_address[4] = {};
};

// Acts on one message from a jail through its row in monitor_requests.def, or ends the
// connection.
void Dispatch(Monitor& m, Phase phase, Message& msg);

// ---- Starting jails ----

// A jail could not be set up: the reason goes to the log, where it may name directories and
// system errors; the client is told only that (or, for a root its user can write, which a user
// can report to the administrator, only that).
[[noreturn]] void JailSetupFailed(const SessionInfo& session, const Status& s) {
  const bool writable_root = s.message().rfind(kWritableRootRefusal, 0) == 0;
  std::string reply = std::string("500 OOPS: ") +
                      (writable_root ? kWritableRootRefusal : "the session could not be started") +
                      "; the administrator can see why in the server's log.\r\n";
  send(session.control_fd, reply.data(), reply.size(), MSG_NOSIGNAL);
  Log(kLogErr, s.message());
  _exit(1);
}

// fork(), into new namespaces where the kernel allows it. The pre-login jail needs no network
// of its own (its control socket is inherited), no System V IPC and no view of other processes.
// Where the kernel refuses (inside some containers), each namespace is given up with a log line.
// Rootless (run_as_launching_user), every jail is cloned into a new user namespace, where it
// may chroot (EnterJail), and into the others as well: they cost no privilege there, and they
// keep a jail of the launching user's uid away from that user's other processes and sockets.
// A user namespace is never given up: without one there is no chroot, and no jail.
pid_t ForkJail(const Monitor& m, bool isolate, bool reinit) {
  const Config& config = m.config();
  const bool rootless = m.session->rootless;
  unsigned long flags = 0;
  if (isolate || rootless) {
    if (config.isolate_network) flags |= CLONE_NEWNET;
    if (config.isolate) flags |= CLONE_NEWPID | CLONE_NEWIPC;
  }
  if (reinit && !ReinAfterLogin(config, rootless)) {
    // The keeper gave up CAP_SYS_ADMIN with the rest before the first login: a pre-login jail
    // without its namespaces is never started (HandleReinit refuses the request before this).
    Fatal("REIN: a new pre-login jail could not be isolated as the first was");
  }
  const unsigned long always = rootless ? CLONE_NEWUSER : 0;
  while (true) {
    if ((flags | always) == 0) return fork();
    long pid = syscall(SYS_clone, flags | always | SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (pid >= 0) return static_cast<pid_t>(pid);
    const int err = errno;
    if ((err != EPERM && err != EINVAL && err != ENOSPC && err != EUSERS) || flags == 0) {
      if (rootless) {
        JailSetupFailed(*m.session, Status::Error(UserNamespaceRefused(err)));
      }
      errno = err;
      return -1;
    }
    // Drop the namespace most likely to be refused, say so, and try again.
    unsigned long give_up = (flags & CLONE_NEWNET) != 0 ? CLONE_NEWNET : flags;
    Log(kLogWarning, std::string("the kernel refused new ") +
                         ((give_up & CLONE_NEWNET) != 0 ? "network" : "PID and IPC") +
                         " namespaces for the " + (isolate ? "pre-login" : "session or TLS") +
                         " jail (" + std::strerror(err) +
                         "); it runs without them");
    flags &= ~give_up;
  }
}

// Every jail's settings, decided here and nowhere else: whom it runs as, its root, its seccomp
// policy and its limits. phase: the jail's; channel: its end of the channel to the monitor.
JailSpec JailSettings(const Monitor& m, Phase phase, int channel) {
  const Config& config = m.config();
  JailSpec spec;
  spec.rootless = m.session->rootless;
  spec.seccomp = config.seccomp_sandbox;
  spec.seccomp_log_only = config.seccomp_log_only;
  spec.channel = channel;
  if (phase == Phase::kSession) {
    spec.name = "session";
    spec.uid = m.account.uid;
    spec.gid = m.account.gid;
    spec.groups = m.account.groups;
    spec.root = m.account.root;
    // Rootless, the jail holds nothing a writable root could be used against (the rule is for
    // chroots entered with root's powers): the launching user's own tree is served as it is.
    spec.refuse_writable_root = m.account.check_writable_root && !m.session->rootless;
    if (spec.refuse_writable_root && config.local_enable) {
      spec.writable_root_hint =
          "with chroot_start_dir naming a writable directory inside it, or set "
          "allow_writeable_chroot=YES";
    }
    spec.sandbox = config.write_enable ? SandboxKind::kSessionWrite : SandboxKind::kSession;
    spec.max_open_files = 64;
    spec.max_address_space = 1024u << 20;
    return spec;
  }
  // The pre-login and TLS jails: nopriv_user in the empty secure_chroot_dir.
  const bool tls = phase == Phase::kTlsJail;
  spec.name = tls ? "tls" : "prelogin";
  spec.uid = m.session->nopriv.uid;
  spec.gid = m.session->nopriv.gid;
  spec.root = config.secure_chroot_dir;
  spec.sandbox = tls ? SandboxKind::kTls : SandboxKind::kPrelogin;
  spec.max_open_files = tls ? 16 : 8;
  spec.max_address_space = 256u << 20;
  return spec;
}

// Forks the jail that speaks on this phase's channel (ForkJail) with a new channel to it, which
// the monitor reads from now on. Returns the jail's pid, or 0 in the child with *channel its end
// (the monitor's is closed), over which its log records go.
pid_t ForkJailWithChannel(Monitor& m, Phase phase, UniqueFd* channel, bool reinit = false) {
  UniqueFd mine;
  Status s = MakeChannel(&mine, channel);
  if (!s.ok()) Fatal(s.message());
  pid_t pid = ForkJail(m, phase == Phase::kPrelogin, reinit);
  if (pid < 0) Fatal(Status::FromErrno(errno, "fork").message());
  if (pid == 0) {
    UseJailLogSink(channel->get());
    return 0;
  }
  channel->Reset();
  m.admissions.NewJail(IsTlsPhase(phase));
  if (IsTlsPhase(phase)) {
    m.tls.pid = pid;
    m.tls.channel = std::move(mine);
  } else {
    m.child = pid;
    m.child_name = phase == Phase::kPrelogin ? "prelogin" : "session";
    m.channel = std::move(mine);
    m.phase = phase;
  }
  return pid;
}

void StartPrelogin(Monitor& m, PreloginGreeting greeting) {
  UniqueFd channel;
  const bool reinit = greeting == PreloginGreeting::kReinit;
  if (ForkJailWithChannel(m, Phase::kPrelogin, &channel, reinit) == 0) {
    SetProcTitle(m.session->peer.HostString() + ": not logged in");
    Status s = EnterJail(JailSettings(m, Phase::kPrelogin, channel.get()),
                         {m.session->control_fd, channel.get()});
    if (!s.ok()) JailSetupFailed(*m.session, s);
    RunPrelogin(m.config(), *m.session, channel.get(), greeting, m.tls.active);
  }
  MonitorLogContext().user.clear();
}

// The passwd and group databases, bounded, for the session jail (it has no NSS).
void LoadUserDb(UserDb* db) {
  setpwent();
  while (passwd* pw = getpwent()) {
    if (db->user_names.size() >= kMaxUserDbEntries) break;
    db->user_names.emplace(pw->pw_uid, pw->pw_name);
    if (pw->pw_dir != nullptr) db->homes.emplace(pw->pw_name, pw->pw_dir);
  }
  endpwent();
  setgrent();
  while (group* gr = getgrent()) {
    if (db->group_names.size() >= kMaxUserDbEntries) break;
    db->group_names.emplace(gr->gr_gid, gr->gr_name);
  }
  endgrent();
}

void StartSession(Monitor& m) {
  UniqueFd channel;
  if (ForkJailWithChannel(m, Phase::kSession, &channel) == 0) {
    if (m.config().use_localtime) tzset();  // read /etc/localtime before the chroot hides it
    SetProcTitle(m.session->peer.HostString() + ": " + m.account.name + ": IDLE");
    SessionUser user = m.account;  // what the session jail is told
    user.chrooted = m.account.root != "/";
    user.tls_active = m.tls.active;
    // Before the chroot: there is no NSS inside it.
    if (m.config().text_userdb_names || m.config().tilde_user_enable) LoadUserDb(&user.userdb);
    umask(m.account.anonymous ? m.config().anon_umask : m.config().local_umask);
    Status s = EnterJail(JailSettings(m, Phase::kSession, channel.get()),
                         {m.session->control_fd, channel.get()});
    if (!s.ok()) JailSetupFailed(*m.session, s);
    RunSession(m.config(), *m.session, channel.get(), user);
  }
}

// A process's SIGSYS handler reported this call before it exited (who: "the session jail").
void LogViolation(const std::string& who, std::uint32_t syscall) {
  const char* name = SyscallName(syscall);
  Log(kLogErr, "seccomp violation: " + who + " called forbidden system call " +
                   std::to_string(syscall) + " (" + (name != nullptr ? name : "unknown") +
                   ") and was stopped");
}

// How a process of the connection ended (status from waitpid), where a seccomp filter or a
// signal ended it. reported: the forbidden call its SIGSYS handler reported, if it did; signals:
// whether another fatal signal than SIGKILL is logged too.
void LogExit(const std::string& who, int status, std::optional<std::uint32_t> reported,
             bool signals) {
  if (reported && WIFEXITED(status) && WEXITSTATUS(status) == kSeccompExitStatus) {
    LogViolation(who, *reported);
  } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
    Log(kLogErr, "seccomp violation: " + who + " made a forbidden system call and was killed");
  } else if (signals && WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
    Log(kLogErr, who + " died of signal " + std::to_string(WTERMSIG(status)));
  }
}

// Sleeps us microseconds, however often a signal interrupts it.
void SleepUs(long us) {
  struct timespec t = {static_cast<time_t>(us / 1000000), (us % 1000000) * 1000L};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

void SleepMs(long ms) { SleepUs(ms * 1000); }

// Milliseconds of the monotonic clock.
long NowMs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1000L + now.tv_nsec / 1000000L;
}

// Reaps pid once it has exited, for at most timeout_ms; between looks, calls between (if any).
// A jail's channel closes while it exits, often some tens of microseconds before it becomes
// reapable, and the 230 waits for that: the next look comes after 50 us, each later one after
// twice the wait before, at most 10 ms apart. Returns waitpid's result: the pid, 0 if it still
// runs, -1 on error.
pid_t ReapWithin(pid_t pid, int* status, long timeout_ms,
                 const std::function<void()>& between = nullptr) {
  const long deadline = NowMs() + timeout_ms;
  pid_t r = waitpid(pid, status, WNOHANG);
  for (long wait_us = 50; r == 0 && NowMs() < deadline;
       wait_us = std::min(wait_us * 2, 10000L)) {
    SleepUs(wait_us);
    if (between) between();
    r = waitpid(pid, status, WNOHANG);
  }
  return r;
}

// poll(), again when a signal interrupts it.
int PollRetrying(pollfd* fds, nfds_t count, int timeout_ms) {
  int r;
  while ((r = poll(fds, count, timeout_ms)) < 0 && errno == EINTR) {
  }
  return r;
}

// Ends a process of the connection at once, and reaps it.
void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

// Reads the next message from the channel fd and acts on it (Dispatch) as one of this phase.
// Returns what came: a message, the end of the channel, or a malformed message, which ends the
// connection if the jail is named.
ReceiveOutcome DispatchNext(Monitor& m, int fd, Phase phase, const char* jail = nullptr) {
  Message msg;
  std::string error;
  ReceiveOutcome r = ReceiveMessage(fd, &msg, &error);
  if (r == ReceiveOutcome::kError && jail != nullptr) {
    Fatal("bad message from the " + std::string(jail) + " jail: " + error);
  }
  if (r == ReceiveOutcome::kMessage) Dispatch(m, phase, msg);
  return r;
}

// Waits for the jail to go away (its channel closes when it exits), at most timeout_ms, then
// kills it; reaps it and logs how it ended.
void ReapChild(Monitor& m, int timeout_ms) {
  if (m.child <= 0) return;
  // Drain log records the jail sent on its way out; stop at end of stream.
  const long start = NowMs();
  for (pollfd p = {m.channel.get(), POLLIN, 0}; timeout_ms > 0 && NowMs() - start < timeout_ms;) {
    if (PollRetrying(&p, 1, timeout_ms) <= 0 ||
        DispatchNext(m, m.channel.get(), Phase::kClosing) != ReceiveOutcome::kMessage) {
      break;
    }
  }
  // A jail whose channel closed is normally exiting: give it a moment to become reapable, so its
  // real exit status (a SIGSYS from seccomp, say) is seen; a jail that lingers is killed.
  int status = 0;
  const pid_t r = ReapWithin(m.child, &status, 500);
  if (r == 0) {
    Log(kLogWarning, std::string("the ") + m.child_name +
                         " jail closed its channel and did not exit within 500 ms: ending it");
    // An unprivileged monitor may not signal a jail of another user: then leaving is enough,
    // the jail's parent-death signal ends it.
    if (kill(m.child, SIGKILL) != 0) _exit(0);
    waitpid(m.child, &status, 0);
  }
  LogExit(std::string("the ") + m.child_name + " jail", status, m.violation, true);
  m.child = -1;
  m.channel.Reset();
}

// ---- The TLS jail ----

// Forks the TLS jail for the raw control connection. It loads OpenSSL and reads the certificate
// and key (as root, before its jail: the monitor never parses them), says TLS_READY, enters its
// jail and waits for TLS_START before it reads the client's handshake. The monitor
// holds no OpenSSL state, so the processes it forks later start small.
void StartTlsJail(Monitor& m) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    Fatal(Status::FromErrno(errno, "socketpair").message());
  }
  UniqueFd plain_jail(pair[0]), plain_protocol(pair[1]);
  UniqueFd channel;
  const int raw = m.session->control_fd;
  if (ForkJailWithChannel(m, Phase::kTlsJail, &channel) == 0) {
    plain_protocol.Reset();
    tzset();  // X.509 checks of client certificates read the time zone: before the chroot
    SetProcTitle(m.session->peer.HostString() + ": tls");
    Result<SSL_CTX*> ctx = MakeServerContext(m.config());
    // Said before entering the jail, which takes a while (its filter, its capabilities): the
    // monitor may answer AUTH TLS meanwhile. The client's connection is touched only after
    // TLS_START, which the jail reads once it is in its jail; if entering fails, it exits and
    // the connection ends.
    SendTlsReady(channel.get(), ctx.ok() ? "" : ctx.status().message());
    if (!ctx.ok()) _exit(0);
    Status s = EnterJail(JailSettings(m, Phase::kTlsJail, channel.get()),
                         {raw, plain_jail.get(), channel.get()});
    if (!s.ok()) {
      Log(kLogErr, s.message());
      _exit(1);
    }
    RunTlsJail(m.config(), *ctx, raw, plain_jail.get(), channel.get());
  }
  m.tls.plain = std::move(plain_protocol);
  m.tls.state = Monitor::TlsJail::State::kStarting;
}

// Log records and reports the TLS jail sent; a seccomp report ends the connection.
void DrainTlsChannel(Monitor& m) {
  while (m.tls.channel.valid()) {
    pollfd p = {m.tls.channel.get(), POLLIN, 0};
    if (poll(&p, 1, 0) <= 0 || (p.revents & POLLIN) == 0) return;
    if (DispatchNext(m, m.tls.channel.get(), Phase::kTlsJail) != ReceiveOutcome::kMessage) {
      m.tls.channel.Reset();
    }
  }
}

// Ends a TLS jail that was never given the control connection.
void StopTlsJail(Monitor& m) {
  m.tls.channel.Reset();
  m.tls.plain.Reset();
  if (m.tls.pid > 0) KillAndReap(std::exchange(m.tls.pid, -1));
  m.tls.state = Monitor::TlsJail::State::kNone;
}

// Waits for the TLS jail's TLS_READY (starting the jail first if it is not running), then lets
// it take the control connection: the jails that follow get the plaintext end. The monitor
// keeps no copy of the raw socket: the TLS jail alone speaks to the client. An error says why
// TLS cannot be used; the jail is gone then.
Status ActivateTls(Monitor& m) {
  if (m.tls.state == Monitor::TlsJail::State::kNone) StartTlsJail(m);
  while (m.tls.state == Monitor::TlsJail::State::kStarting && m.tls.channel.valid()) {
    pollfd p = {m.tls.channel.get(), POLLIN, 0};
    if (poll(&p, 1, -1) < 0 && errno != EINTR) Fatal(Status::FromErrno(errno, "poll").message());
    DrainTlsChannel(m);
  }
  if (m.tls.state != Monitor::TlsJail::State::kReady || !m.tls.channel.valid() ||
      !SendMessage(m.tls.channel.get(), MsgType::kTlsStart, {}).ok()) {
    if (m.tls.state != Monitor::TlsJail::State::kFailed) m.tls.error = "the TLS jail ended before TLS_START";
    StopTlsJail(m);
    m.tls.state = Monitor::TlsJail::State::kFailed;
    return Status::Error(m.tls.error);
  }
  m.tls.active = true;
  // The raw connection is the TLS jail's alone now; the protocol jails get the plaintext end.
  UniqueFd raw(std::exchange(m.session->control_fd, m.tls.plain.Release()));
  return Status::Ok();
}

// Every login this configuration accepts must come over TLS (force_local_logins_ssl, and
// anonymous logins off or forced onto TLS too): a session that gets anywhere will send AUTH
// TLS, so the TLS jail may prepare while the pre-login jail greets the client.
bool EveryLoginNeedsTls(const Config& config) {
  return config.ssl_enable && !config.implicit_ssl && config.force_local_logins_ssl &&
         (!config.anonymous_enable || (config.allow_anon_ssl && config.force_anon_logins_ssl));
}

// Leaving: with TLS, the TLS jail must flush the last replies and send its close_notify before
// it goes, so close our copy of the plaintext end and give it a moment.
// log_end: false in the keeper after a session, whose own monitor wrote the record.
// exit_status: 1 in the keeper when the session's monitor ended on an error (a Fatal, a signal),
// as the monitor itself exits 1 on one before the login.
[[noreturn]] void EndConnection(Monitor& m, bool log_end = true, int exit_status = 0) {
  if (log_end) {
    const long ms = NowMs() - m.started_ms;
    LogEventRecord(kLogInfo,
                   "session end: " + m.out.Said() + " downloaded, " + m.in.Said() + " uploaded, " +
                       std::to_string(ms) + " ms",
                   {.command = "SESSION",
                    .bytes = AddCapped(m.in.bytes, static_cast<std::uint64_t>(m.out.bytes)),
                    .duration_usec = ms * 1000,
                    .result = "end"});
  }
  if (m.tls.active && m.tls.pid > 0) {
    UniqueFd(std::exchange(m.session->control_fd, -1)).Reset();  // the TLS jail then ends
    DrainTlsChannel(m);
    ReapWithin(m.tls.pid, nullptr, 3000, [&m] { DrainTlsChannel(m); });
    DrainTlsChannel(m);
  }
  _exit(exit_status);
}

// ---- Answers ----

void Answer(Monitor& m, MsgType type, std::string_view body, int fd = -1) {
  Status s = SendMessage(m.channel.get(), type, body, fd);
  if (!s.ok()) Fatal("answering the " + std::string(m.child_name) + " jail: " + s.message());
}

// The session jail's data connection, or (no fd) why there is none.
void AnswerData(Monitor& m, std::string_view message, UniqueFd fd = UniqueFd()) {
  Answer(m, MsgType::kDataResult, Encode(DataResult{fd.valid(), std::string(message)}), fd.get());
}

constexpr std::string_view kNoConnection = "Failed to establish connection.";

// ---- Handlers, one per request ----

// The jail that sent the request being handled.
const char* Sender(const Monitor& m) { return IsTlsPhase(m.from) ? "tls" : m.child_name; }

void HandleEvent(Monitor& m, EventRequest& req) {
  LogEvent e;
  e.command = std::move(req.command);
  e.path = std::move(req.path);
  e.target = std::move(req.target);
  e.result = std::move(req.result);
  e.transfer_type = req.transfer_type;
  // All ones is no number at all (the -1 of a LogEvent without one, as the jail sends it).
  constexpr std::uint64_t kNone = ~std::uint64_t{0};
  e.bytes = req.bytes == kNone ? -1 : AddCapped(0, req.bytes);
  e.duration_usec = req.duration_usec == kNone ? -1 : AddCapped(0, req.duration_usec);
  const bool download = e.command == "RETR";
  const bool upload = e.command == "STOR" || e.command == "APPE" || e.command == "STOU";
  if (e.bytes > 0 && (download || upload)) {
    (download ? m.out : m.in).Add(req.bytes, e.result == "ok");
  }
  LogEventFromJail(req.priority, m.child_name, req.text, e);
}

void HandleLog(Monitor& m, const LogRequest& log) { LogFromJail(log.priority, Sender(m), log.text); }

// A refused login: the failure delay, the failure count, and the connection ends after
// max_login_fails of them. Failures are also counted across connections (login_state.h): the
// delay grows with the recent failures from the address or for the name, and enough of them from
// one address ban it, which ends this connection too.
void RefuseLogin(Monitor& m, const std::string& user, const std::string& why,
                 std::string_view message = "Login incorrect.") {
  if (m.pam != nullptr) PamEnd(std::exchange(m.pam, nullptr));
  ++m.login_fails;
  const Config& config = m.config();
  const std::string address = m.session->peer.HostString();
  // The address is in the text too, for tools that read only MESSAGE (fail2ban); a '"' in the
  // name must not let a client write a fake "from" into it.
  LogEventRecord(kLogNotice,
                 "login failed for user \"" + LogName(user) + "\" from " + address + ": " + why,
                 {.command = "PASS", .login_user = user, .result = "failed"});
  unsigned delay = config.delay_failed_login;
  bool banned = false;
  if (!config.login_state_dir.empty()) {
    Result<LoginState> state = LoginState::Open(config.login_state_dir);
    Result<LoginState::Failure> f =
        state.ok() ? state->RecordFailure(m.session->peer, user, config.ban_window,
                                          config.ban_max_login_fails, config.ban_time)
                   : Result<LoginState::Failure>(state.status());
    if (!f.ok()) {
      Log(kLogErr, f.status().message() + "; failed logins are not counted across connections");
    } else {
      std::uint64_t grown = std::uint64_t{config.delay_failed_login} *
                            std::max(f->address_fails, f->user_fails);
      grown = std::min<std::uint64_t>(grown, config.max_delay_failed_login);
      delay = std::max<unsigned>(delay, static_cast<unsigned>(grown));
      banned = f->banned;
      if (f->uncounted) {
        Log(kLogWarning, "the failed-login table is full of live bans where " + address +
                             " would be counted: this failure ends the connection as a ban would");
      }
      if (f->ban_started) {
        LogEventRecord(kLogWarning,
                       "banning " + address + " for " + std::to_string(config.ban_time) +
                           " seconds after " + std::to_string(f->address_fails) +
                           " failed logins within " + std::to_string(config.ban_window) +
                           " seconds",
                       {.command = "BAN", .result = "banned"});
      }
    }
  }
  SleepMs(delay * 1000L);
  bool close = banned || m.login_fails >= config.max_login_fails;
  if (close) {
    Log(kLogNotice, banned ? "the address is banned; closing the connection"
                           : "too many failed logins; closing the connection");
  }
  Answer(m, MsgType::kLoginResult, Encode(LoginResult{false, close, std::string(message)}));
}

constexpr std::string_view kBannedReply =
    "421 Too many failed logins from your address; try again later.\r\n";

// True (with the log record) when the client's address is banned.
bool IsBanned(const Config& config, const SockAddr& peer) {
  if (config.login_state_dir.empty()) return false;
  Result<LoginState> state = LoginState::Open(config.login_state_dir);
  Result<std::uint32_t> left =
      state.ok() ? state->BannedFor(peer) : Result<std::uint32_t>(state.status());
  if (!left.ok()) {
    Log(kLogErr, left.status().message() + "; banned addresses are not refused");
    return false;
  }
  if (*left == 0) return false;
  LogEventRecord(kLogNotice,
                 "connection from " + peer.HostString() + " refused: banned for " +
                     std::to_string(*left) + " more seconds after too many failed logins",
                 {.command = "CONNECT", .result = "banned"});
  return true;
}

// A banned address gets 421 before the pre-login jail reads a byte from it.
void RefuseBannedAddress(const Config& config, const SessionInfo& session) {
  if (!IsBanned(config, session.peer)) return;
  if (!config.implicit_ssl) {  // implicit FTPS expects a handshake, not text: just close
    send(session.control_fd, kBannedReply.data(), kBannedReply.size(), MSG_NOSIGNAL);
    shutdown(session.control_fd, SHUT_WR);
  }
  _exit(0);
}

// proxy_protocol: only the balancers in proxy_trusted_addresses may connect at all, whether or
// not they would send a header; the connection is closed without a word.
void RefuseUntrustedProxy(const Config& config, const SessionInfo& session) {
  if (InNetworks(config.proxy_trusted_networks, session.peer)) return;
  LogEventRecord(kLogWarning,
                 "connection from " + session.peer.HostString() +
                     " refused: not in proxy_trusted_addresses (proxy_protocol=YES)",
                 {.command = "CONNECT", .result = "refused"});
  _exit(0);
}

// PROXY_INFO: the client behind the balancer becomes the session's peer, for everything from
// here on: logs, bans, PAM's rhost, the data connection checks.
void HandleProxyInfo(Monitor& m, const ProxyInfoRequest& req) {
  if (req.proxied) {
    const SockAddr client = req.source.Normalized();
    const std::uint16_t sport = client.port();
    const std::string balancer = m.session->peer.HostString();
    m.session->proxy = m.session->peer;
    m.session->peer = client;
    MonitorLogContext().remote_addr = client.HostString();
    MonitorLogContext().remote_port = std::to_string(sport);
    // With the client's address: vsftpd's CONNECT line, held back at the session's start.
    LogEventRecord(kLogInfo,
                   "PROXY header: client " + client.HostString() + " port " +
                       std::to_string(sport) + ", through " + balancer,
                   {.command = "SESSION", .result = "proxied"});
    if (IsBanned(m.config(), client)) {
      return Answer(m, MsgType::kProxyInfoResult,
                    Encode(ProxyInfoResult{false, std::string(kBannedReply)}));
    }
  } else {
    Log(kLogInfo, "PROXY header LOCAL from " + m.session->peer.HostString() +
                      " (a health check): the banner only");
  }
  Answer(m, MsgType::kProxyInfoResult, Encode(ProxyInfoResult{true, ""}));
}

// A login the monitor accepts, m.account filled: its record (access: xferlog's 'a', 'g' or 'r';
// anon_password: what an anonymous user gave, which vsftpd's logs show), the session's records,
// the 230, and the hand-over to the session jail.
void AcceptLogin(Monitor& m, const std::string& user, char access,
                 const std::string& anon_password, const std::string& text) {
  MonitorLogContext().user = m.account.name;
  MonitorLogContext().access = access;
  MonitorLogContext().anon_password = anon_password;
  LogEventRecord(kLogNotice, text,
                 {.command = "PASS", .path = m.account.root, .login_user = user, .result = "ok"});
  // session_support: the PAM session (local users) and the utmp/wtmp login record, opened
  // before the 230, as root; the keeper closes them when the session ends.
  if (m.main_config->session_support) {
    std::string reason;
    if (m.pam != nullptr && !PamOpenSession(m.pam, &reason)) {
      return RefuseLogin(m, m.account.name, reason);
    }
    UwtmpLogin(m.account.name, m.session->peer.HostString(), getpid());
  }
  if (m.config().delay_successful_login > 0) SleepMs(m.config().delay_successful_login * 1000L);
  Answer(m, MsgType::kLoginResult, Encode(LoginResult{true, false, "Login successful."}));
  m.phase = Phase::kClosing;
  m.next = Monitor::Next::kSession;
}

void LocalSession(Monitor& m, const std::string& user, const PamResult& pam) {
  const Config& config = m.config();
  // A virtual user (guest_enable) runs as guest_username; the login name still names the
  // user's folder (user_sub_token) and the lists.
  const bool guest = config.guest_enable;
  const std::string& unix_name = guest ? config.guest_username : pam.user;
  passwd* pw = getpwnam(unix_name.c_str());
  if (pw == nullptr) {
    return RefuseLogin(m, user,
                       guest ? "guest_username=" + config.guest_username + " is not a local account"
                             : "PAM accepted it, but it is not in the passwd database");
  }
  if (pw->pw_uid == 0 || pw->pw_gid == 0) {
    return RefuseLogin(m, user, "root (uid or gid 0) may not log in");
  }
  if (!guest && config.check_shell && !ShellIsListed(pw->pw_shell != nullptr ? pw->pw_shell : "")) {
    return RefuseLogin(m, user, "its shell is not in /etc/shells (check_shell)");
  }
  Monitor::Account& a = m.account;
  a.name = pam.user;
  a.uid = pw->pw_uid;
  a.gid = pw->pw_gid;
  a.home = pw->pw_dir != nullptr ? pw->pw_dir : "/";
  int count = 64;
  a.groups.assign(static_cast<std::size_t>(count), 0);
  if (getgrouplist(unix_name.c_str(), a.gid, a.groups.data(), &count) < 0) {
    a.groups.assign(static_cast<std::size_t>(count), 0);
    if (getgrouplist(unix_name.c_str(), a.gid, a.groups.data(), &count) < 0) count = 0;
  }
  a.groups.resize(static_cast<std::size_t>(count));
  if (m.session->rootless) {
    // The launching user, whoever PAM accepted (a virtual user): the only ids the jail can have.
    a.uid = m.session->nopriv.uid;
    a.gid = m.session->nopriv.gid;
    a.groups.clear();
  }
  JailPlace place = PlaceLocalUser(config, m.session->chroot_list, a.name, a.home);
  a.root = place.root;
  a.start = place.start;
  a.check_writable_root = place.chrooted && !config.allow_writeable_chroot;
  // Virtual users have anonymous users' rights unless virtual_use_local_privs.
  a.anonymous = guest && !config.virtual_use_local_privs;
  a.anonymous_login = false;
  AcceptLogin(m, user, guest ? 'g' : 'r', "",
              std::string(guest ? "virtual" : "local") + " login as \"" + SanitizeForLog(a.name) +
                  "\"" + (guest ? " (running as " + SanitizeForLog(unix_name) + ")" : "") +
                  (place.chrooted ? ", chrooted to " + a.root : ", not chrooted"));
}

void LocalLogin(Monitor& m, const std::string& user, const std::string& password) {
  const Config& config = m.config();
  if (!UserListAllows(config, m.session->user_list, user)) {
    return RefuseLogin(m, user, "refused by userlist_file", "Permission denied.");
  }
  if (m.session->rootless && !config.guest_enable && user != m.session->nopriv.name) {
    // Every session would run as the launching user: no other account may log in.
    return RefuseLogin(m, user,
                       "run_as_launching_user=YES: only " + m.session->nopriv.name + " may log in");
  }
  PamResult pam = PamLogin(config.pam_service_name, user, password,
                           m.session->peer.HostString(),
                           m.main_config->session_support ? &m.pam : nullptr);
  if (!pam.ok) return RefuseLogin(m, user, pam.reason);
  if (!config.user_config_dir.empty()) {
    // The user's own settings, over the main ones, with the same checks; they apply from here
    // on (where the jail goes, what the session may do).
    const std::string& name = pam.user;
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
      return RefuseLogin(m, user, "a user name that cannot name a file in user_config_dir");
    }
    std::string path = config.user_config_dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
      std::vector<ConfigError> errors;
      Config user_config = LoadConfigFile(path, &errors, config);
      if (user_config.run_as_launching_user != config.run_as_launching_user) {
        errors.push_back({path, 0, "run_as_launching_user",
                          "only the main configuration may set it"});
      }
      if (!errors.empty()) {
        for (const ConfigError& e : errors) Log(kLogErr, e.ToString());
        return RefuseLogin(m, user, "its user_config_dir file is broken");
      }
      m.user_config.emplace(std::move(user_config));
      Log(kLogInfo, "applied " + SanitizeForLog(path));
    }
  }
  LocalSession(m, user, pam);
}

void HandleLogin(Monitor& m, LoginRequest& req) {
  if (req.prot_private && !m.tls.active) Fatal("LOGIN with PROT P but no TLS");
  std::string& user = req.user;
  std::string& password = req.password;
  // Nothing of an earlier login (before REIN) stays: its home, groups, rights.
  m.account = Monitor::Account{};
  m.account.prot_private = req.prot_private;
  m.user_config.reset();  // a failed login's user_config_dir file does not stay
  struct Wipe {
    std::string& s;
    ~Wipe() { explicit_bzero(s.data(), s.size()); }
  } wipe{password};
  const Config& config = m.config();
  if (HasControlLineBytes(user) || HasControlLineBytes(password)) {
    return RefuseLogin(m, user, "control characters in the user name or password");
  }
  const bool anonymous = config.anonymous_enable && IsAnonymousName(user);
  // FTPS rules, checked again here whatever the pre-login jail said.
  if (const char* reply = TlsLoginRefusal(config, anonymous, m.tls.active)) {
    return RefuseLogin(m, user,
                       m.tls.active ? "an anonymous login over TLS, and allow_anon_ssl=NO"
                                    : "a login without TLS, and force_*_logins_ssl=YES",
                       reply);
  }
  if (anonymous) {
    if (config.deny_email_enable && InNameList(m.session->banned_emails, password)) {
      return RefuseLogin(m, user, "anonymous password listed in banned_email_file");
    }
    if (config.secure_email_list_enable && !InNameList(m.session->email_passwords, password)) {
      return RefuseLogin(m, user, "anonymous password not listed in email_password_file");
    }
    Monitor::Account& a = m.account;
    a.name = m.session->anonymous.name;
    a.uid = m.session->anonymous.uid;
    a.gid = m.session->anonymous.gid;
    a.groups.clear();
    a.root = m.session->anon_root;
    a.start = "/";
    a.check_writable_root = true;
    a.anonymous = true;
    a.anonymous_login = true;
    return AcceptLogin(m, user, 'a', password,
                       "anonymous login as \"" + SanitizeForLog(user) + "\"");
  }
  if (!config.local_enable) {
    return RefuseLogin(m, user, "not an anonymous login, and local_enable=NO",
                       config.anonymous_enable ? "This FTP server is anonymous only."
                                               : "Login incorrect.");
  }
  LocalLogin(m, user, password);
}

void HandlePasvListen(Monitor& m, const EmptyRequest&) {
  m.pasv_listener.Reset();
  auto fail = [&](const std::string& why) {
    Log(kLogWarning, "passive listener: " + why);
    Answer(m, MsgType::kPasvListenResult,
           Encode(PasvListenResult{false, 0, "Could not open a passive port.", false, {}}));
  };
  if (!m.config().pasv_enable) return fail("pasv_enable=NO");
  const SockAddr& local = m.session->local;
  UniqueFd listener(socket(local.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return fail(std::strerror(errno));
  // A port whose last data connection is in TIME_WAIT (a minute after each download) is free
  // for a new listener: without SO_REUSEADDR, each download would take its port out of the
  // pasv_min_port..pasv_max_port range for that long. Two listeners still never share a port.
  int one = 1;
  if (setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return fail(std::strerror(errno));
  }
  unsigned lo = m.config().pasv_min_port, hi = m.config().pasv_max_port;
  bool any = lo == 0 && hi == 0;
  if (lo < 1024) lo = 1024;
  if (hi == 0) hi = 65535;
  unsigned span = hi >= lo ? hi - lo + 1 : 0;
  std::uint32_t start = 0;
  if (getrandom(&start, sizeof(start), 0) != sizeof(start)) start = static_cast<unsigned>(getpid());
  bool bound = false;
  unsigned tries = any ? 1 : span;
  for (unsigned i = 0; i < tries && !bound; ++i) {
    SockAddr addr = local;
    addr.set_port(any ? 0 : static_cast<std::uint16_t>(lo + (start + i) % span));
    bound = bind(listener.get(), addr.raw(), addr.raw_len()) == 0;
  }
  if (!bound) return fail("no free port in the passive range");
  if (listen(listener.get(), 1) != 0) return fail(std::strerror(errno));
  Result<SockAddr> where = SockAddr::FromLocal(listener.get());
  if (!where.ok()) return fail(where.status().message());
  m.pasv_listener = std::move(listener);
  PasvListenResult answer{true, where->port(), "", m.pasv_resolved, {}};
  std::memcpy(answer.address, m.pasv_address, 4);
  Answer(m, MsgType::kPasvListenResult, Encode(answer));
}

// A data connection for the session: handed over, or with PROT P kept for TLS_DATA (the
// session replies 150 first: clients start the data handshake only after it).
void GiveData(Monitor& m, UniqueFd data, bool tls) {
  if (!tls) return AnswerData(m, "", std::move(data));
  // The TLS jail writes records and then a close_notify: no Nagle delay between them.
  int one = 1;
  setsockopt(data.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  m.tls.pending_data = std::move(data);
  Answer(m, MsgType::kDataResult, Encode(DataResult{true, ""}));
}

// Where a passive data connection may come from (unless pasv_promiscuous): the client's own
// address, or, with proxy_protocol, the balancer that relayed this session's control
// connection, which forwards the passive ports without a PROXY header (README, "Running
// several nodes"). That balancer was in proxy_trusted_addresses when it connected; any other
// trusted address is still refused.
bool FromClientOrItsBalancer(const SessionInfo& session, const SockAddr& peer) {
  if (peer.SameHost(session.peer)) return true;
  return session.proxy.family() != AF_UNSPEC && peer.SameHost(session.proxy);
}

void HandleDataAccept(Monitor& m, const DataAcceptRequest& req) {
  if (req.tls && !m.tls.active) Fatal("DATA_ACCEPT over TLS without TLS");
  m.tls.pending_data.Reset();
  if (!m.pasv_listener.valid()) return AnswerData(m, "Use PORT or PASV first.");
  UniqueFd listener = std::move(m.pasv_listener);  // one connection per PASV
  // While waiting, the jail may cancel (ABOR, or the client left) or die.
  pollfd p[2] = {{listener.get(), POLLIN, 0}, {m.channel.get(), POLLIN, 0}};
  const int r = PollRetrying(p, 2, static_cast<int>(m.config().accept_timeout) * 1000);
  if (r > 0 && p[1].revents != 0) {
    if ((p[1].revents & POLLIN) == 0) return;  // the jail is gone; the main loop sees it
    m.data_cancelled = false;
    // DATA_CANCEL is all it may say now.
    if (DispatchNext(m, m.channel.get(), Phase::kDataWait, "session") == ReceiveOutcome::kClosed) {
      return;
    }
    if (m.data_cancelled) return AnswerData(m, "Data connection cancelled.");
  }
  if (r <= 0) return AnswerData(m, kNoConnection);
  UniqueFd data(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!data.valid()) return AnswerData(m, kNoConnection);
  Result<SockAddr> peer = SockAddr::FromPeer(data.get());
  if (!peer.ok()) return AnswerData(m, kNoConnection);
  if (!m.config().pasv_promiscuous && !FromClientOrItsBalancer(*m.session, *peer)) {
    Log(kLogWarning, "refused a passive data connection from " + peer->HostString() +
                         (m.session->proxy.family() == AF_UNSPEC
                              ? ": it is not the control connection's address"
                              : ": it is neither the client's address nor its balancer's"));
    return AnswerData(m, "Security: Bad IP connecting.");
  }
  GiveData(m, std::move(data), req.tls);
}

// DATA_CANCEL: while DATA_ACCEPT waits, the wait ends; after it, it is too late (the
// DATA_RESULT had gone) and nothing happens.
void HandleDataCancel(Monitor& m, const EmptyRequest&) { m.data_cancelled = true; }

void HandlePortConnect(Monitor& m, const PortConnectRequest& req) {
  if (req.tls && !m.tls.active) Fatal("PORT_CONNECT over TLS without TLS");
  m.pasv_listener.Reset();
  m.tls.pending_data.Reset();
  const SockAddr target = req.target.Normalized();
  const std::uint16_t port = target.port();
  if (!m.config().port_enable) return AnswerData(m, "Permission denied.");
  if (!m.config().port_promiscuous && (!target.SameHost(m.session->peer) || port < 1024)) {
    Log(kLogWarning, "refused an active data connection to " + target.HostString() + " port " +
                         std::to_string(port));
    return AnswerData(m, "Illegal PORT command.");
  }
  // Connect from the control connection's local address, in its family; with
  // connect_from_port_20, from ftp_data_port too (RFC 959's L-1), as some firewalls expect.
  SockAddr local = m.session->local;
  const bool fixed_port = m.config().connect_from_port_20;
  local.set_port(fixed_port ? static_cast<std::uint16_t>(m.config().ftp_data_port) : 0);
  SockAddr dest = target;
  if (local.family() == AF_INET6 && target.family() == AF_INET) {
    std::uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
    target.GetV4Bytes(mapped + 12);
    dest = SockAddr::V6(mapped, port);
  } else if (local.family() != target.family()) {
    return AnswerData(m, "Address family does not match the control connection.");
  }
  UniqueFd data(socket(local.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  // Every session's active connections share that port: each has its own client address and
  // port, so the connections differ, but bind() needs SO_REUSEADDR to allow it.
  int one = 1;
  if (!data.valid() ||
      (fixed_port && setsockopt(data.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)) {
    return AnswerData(m, kNoConnection);
  }
  if (bind(data.get(), local.raw(), local.raw_len()) != 0) {
    if (fixed_port) {
      Log(kLogErr, "could not bind the active data connection to port " +
                       std::to_string(m.config().ftp_data_port) + " (connect_from_port_20): " +
                       std::strerror(errno));
    }
    return AnswerData(m, kNoConnection);
  }
  // Connected, or refused, or not within connect_timeout.
  pollfd p = {data.get(), POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof(err);
  if ((connect(data.get(), dest.raw(), dest.raw_len()) != 0 && errno != EINPROGRESS) ||
      PollRetrying(&p, 1, static_cast<int>(m.config().connect_timeout) * 1000) <= 0 ||
      getsockopt(data.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    return AnswerData(m, kNoConnection);
  }
  GiveData(m, std::move(data), req.tls);
}

void HandleStartTls(Monitor& m, const EmptyRequest&) {
  if (!m.config().ssl_enable || m.tls.active) {
    return Answer(m, MsgType::kStartTlsResult,
                  Encode(StartTlsResult{false, "TLS is not available."}));
  }
  Status s = ActivateTls(m);
  if (!s.ok()) {
    Log(kLogErr, s.message());
    return Answer(m, MsgType::kStartTlsResult,
                  Encode(StartTlsResult{
                      false, "TLS is not available: the server's certificate could not be loaded."}));
  }
  // The TLS jail waits for the client's handshake, which comes after the pre-login jail's 234;
  // the pre-login jail then swaps its control connection for the plaintext end.
  Answer(m, MsgType::kStartTlsResult, Encode(StartTlsResult{true, ""}), m.session->control_fd);
}

// PROT P data: the raw connection kept by DATA_ACCEPT or PORT_CONNECT goes to the TLS jail,
// whose plaintext end goes to the session jail.
void HandleTlsData(Monitor& m, const EmptyRequest&) {
  if (!m.tls.pending_data.valid() || !m.tls.channel.valid()) {
    return AnswerData(m, "Use PORT or PASV first.");
  }
  DrainTlsChannel(m);
  m.tls.data_ends = 0;  // reports of earlier connections are not about this one
  Status s = SendMessage(m.tls.channel.get(), MsgType::kTlsWrap, {}, m.tls.pending_data.get());
  if (!s.ok()) Fatal("TLS_WRAP: " + s.message());
  m.tls.pending_data.Reset();  // the TLS jail's now
  m.tls.wrap_message.reset();
  while (!m.tls.wrap_message) {
    if (DispatchNext(m, m.tls.channel.get(), Phase::kTlsWrap) != ReceiveOutcome::kMessage) {
      Fatal("the tls jail is gone");
    }
  }
  AnswerData(m, SanitizeForLog(*m.tls.wrap_message), std::move(m.tls.wrap_plain));
}

// The TLS jail's answer to TLS_WRAP: the plaintext end of the data connection, or why not.
void HandleTlsWrapResult(Monitor& m, TlsWrapAnswer& answer, UniqueFd plain) {
  if (answer.ok != plain.valid()) Fatal("TLS_WRAP_RESULT: descriptor and status disagree");
  m.tls.wrap_message = std::move(answer.message);
  m.tls.wrap_plain = std::move(plain);
}

// The TLS jail built its context, or could not (before its jail: see StartTlsJail).
void HandleTlsReady(Monitor& m, const TlsReadyReport& ready) {
  m.tls.state = ready.ok ? Monitor::TlsJail::State::kReady : Monitor::TlsJail::State::kFailed;
  m.tls.error = SanitizeForLog(ready.error);
}

// A data connection the TLS jail wrapped has ended: how (TLS_DATA_STATUS asks).
void HandleTlsDataEnd(Monitor& m, const TlsDataEndReport& end) {
  ++m.tls.data_ends;
  m.tls.last_flags = end.flags;
}

// After a transfer over TLS: how the client's side of the data connection ended. Waits for the
// TLS jail's report. An upload counts if it was not reset (and, with strict_ssl_read_eof, if the
// client sent close_notify); a download, with strict_ssl_write_shutdown, if the client answered
// with close_notify.
void HandleTlsDataStatus(Monitor& m, const TlsDataStatusRequest& req) {
  for (int i = 0; i < 1000 && m.tls.data_ends == 0 && m.tls.channel.valid(); ++i) {
    pollfd p = {m.tls.channel.get(), POLLIN, 0};
    if (poll(&p, 1, 10) > 0) DrainTlsChannel(m);
  }
  const bool known = m.tls.data_ends > 0;
  const bool unbroken = (m.tls.last_flags & 1) != 0, close_notify = (m.tls.last_flags & 2) != 0;
  bool clean = req.upload ? known && unbroken && (close_notify || !m.config().strict_ssl_read_eof)
                               : known && (close_notify || !m.config().strict_ssl_write_shutdown);
  m.tls.data_ends = 0;
  Answer(m, MsgType::kTlsDataStatusResult, Encode(TlsDataStatusResult{clean, close_notify}));
}

void HandleReinit(Monitor& m, const EmptyRequest&) {
  if (!ReinAfterLogin(m.config(), m.session->rootless)) {
    Fatal("refusing REINIT from the session jail: REIN after login is not available with "
          "isolate or isolate_network (the session jail answers 502 itself)");
  }
  Log(kLogNotice, "REIN: session ended, back to the login prompt");
  m.pasv_listener.Reset();
  m.phase = Phase::kClosing;
  m.next = Monitor::Next::kPrelogin;
}

// Whether the file was created during this connection, as far as the file system can tell:
// its birth time is at most a second (the coarse clock of file times) before the connection
// started. A file system without birth times (NFS) cannot tell: true.
bool CreatedDuringSession(const Monitor& m, int fd) {
  struct statx stx;
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BTIME, &stx) != 0 ||
      (stx.stx_mask & STATX_BTIME) == 0) {
    return true;
  }
  return stx.stx_btime.tv_sec + 1 >= m.started_realtime;
}

// chown_uploads: the session jail hands over the file it just received from an anonymous
// client. Only a regular file with one link, owned by the anonymous account and created during
// this session, is changed: first its mode (the monitor has the file owner's uid), then its
// owner (CAP_CHOWN). A compromised jail cannot give away an older anonymous file.
void HandleChownUpload(Monitor& m, const EmptyRequest&, UniqueFd file) {
  bool ok = false;
  struct stat st;
  if (!m.config().chown_uploads || !m.account.anonymous_login) {
    Fatal("CHOWN_UPLOAD without chown_uploads for an anonymous session");
  }
  if (fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
      st.st_uid != m.account.uid) {
    Log(kLogWarning, "chown_uploads: refused a file that is not a new anonymous upload");
  } else if (!CreatedDuringSession(m, file.get())) {
    Log(kLogWarning, "chown_uploads: refused a file created before this session");
  } else if (fchmod(file.get(), static_cast<mode_t>(m.config().chown_upload_mode)) != 0 ||
             fchown(file.get(), m.session->chown_owner.uid, m.session->chown_owner.gid) != 0) {
    Log(kLogWarning, std::string("chown_uploads: ") + std::strerror(errno));
  } else {
    ok = true;
  }
  Answer(m, MsgType::kChownResult, Encode(ChownResult{ok}));
}

// Sent by a jail's SIGSYS handler (sandbox.cc) just before it exits; logged when it is reaped,
// with its exit status as the proof. Nothing else changes: the jail is gone either way.
// The TLS jail's is logged at once: the keeper reaps that jail.
void HandleSeccompReport(Monitor& m, const SeccompReport& report) {
  if (IsTlsPhase(m.from)) return LogViolation("the tls jail", report.syscall);
  m.violation = report.syscall;
  m.phase = Phase::kClosing;
}

// One handler per row of monitor_requests.def, in its order; each gets the body its row decoded
// (and the descriptor, where the row lets one come).
using Handler = void (*)(Monitor& m, RequestBody& body, UniqueFd fd);

template <typename Body, auto Handle>
void Call(Monitor& m, RequestBody& body, UniqueFd fd) {
  if constexpr (std::is_invocable_v<decltype(Handle), Monitor&, Body&, UniqueFd>) {
    Handle(m, std::get<Body>(body), std::move(fd));
  } else {
    Handle(m, std::get<Body>(body));
  }
}

constexpr Handler kHandlers[] = {
#define REQUEST(TYPE, PHASES, MAX_BODY, FD, FLAGS, BODY, HANDLER) &Call<BODY, HANDLER>,
#include "monitor_requests.def"
#undef REQUEST
};

void Dispatch(Monitor& m, Phase phase, Message& msg) {
  m.from = phase;
  Result<Admitted> admitted =
      AdmitRequest(m.admissions, phase, msg.type, msg.body, msg.fd.valid());
  if (!admitted.ok()) {
    Fatal(std::string("refusing a request from the ") + Sender(m) + " jail: " +
          admitted.status().message());
  }
  kHandlers[admitted->row](m, admitted->body, std::move(msg.fd));
}

// ---- Privileges ----

// What the session's monitor keeps (the pre-login monitor keeps them for it): with chown_uploads,
// for an anonymous session, CAP_CHOWN for CHOWN_UPLOAD; with connect_from_port_20 below 1024,
// CAP_NET_BIND_SERVICE, to bind the active data connections to it. Nothing else.
std::vector<int> SessionMonitorCapabilities(const Config& config, bool anonymous_login) {
  std::vector<int> caps;
  if (config.chown_uploads && anonymous_login) caps.push_back(CAP_CHOWN);
  if (config.connect_from_port_20 && config.ftp_data_port < 1024) {
    caps.push_back(CAP_NET_BIND_SERVICE);
  }
  return caps;
}

// Pre-login: what starting the session jail needs, nothing else: new ids (CAP_SETUID,
// CAP_SETGID), its chroot (CAP_SYS_CHROOT), emptying its bounding set and later our own
// (CAP_SETPCAP), ending a jail of another uid that does not leave (CAP_KILL), and what the
// session's monitor will keep (any login may be anonymous).
std::vector<int> MonitorCapabilities(const Config& config) {
  std::vector<int> caps = {CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT, CAP_KILL, CAP_SETPCAP};
  for (int cap : SessionMonitorCapabilities(config, true)) caps.push_back(cap);
  return caps;
}

// The bounding set first, before the monitor forks anything (NarrowBoundingSet: every jail then
// has less to drop); the effective and permitted sets once the pre-login jail is started
// (TrimCapabilities, with libcap-ng).
void NarrowMonitorBoundingSet(const Config& config, bool rootless) {
  if (rootless) return;  // nothing to drop; TrimCapabilities checks there is nothing
  if (Status s = NarrowBoundingSet(MonitorCapabilities(config)); !s.ok()) Fatal(s.message());
}

void TrimCapabilities(const Config& config, bool rootless) {
  if (rootless) {
    // Started without root: there must be nothing to trim.
    if (capng_get_caps_process() != 0 ||
        capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE) {
      Fatal("run_as_launching_user=YES: keepftpd was started with capabilities; start it as a "
            "normal user without any");
    }
    return;
  }
  capng_clear(CAPNG_SELECT_CAPS);
  const auto sets = static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED);
  for (int cap : MonitorCapabilities(config)) capng_update(CAPNG_ADD, sets, cap);
  if (capng_apply(CAPNG_SELECT_CAPS) != 0) Fatal("monitor: could not trim its capabilities");
}

// pasv_addr_resolve: pasv_address is looked up once per session, by the session's monitor
// before it confines itself (no resolver in its chroot; the jail has none either).
void ResolvePasvAddress(Monitor& m) {
  const addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
  addrinfo* res = nullptr;
  int rc = getaddrinfo(m.config().pasv_address.c_str(), nullptr, &hints, &res);
  if (rc == 0 && res != nullptr && res->ai_family == AF_INET) {
    std::memcpy(m.pasv_address, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, 4);
    m.pasv_resolved = true;
  } else {
    Log(kLogErr, "pasv_addr_resolve: could not look up pasv_address=" +
                     SanitizeForLog(m.config().pasv_address) + ": " + gai_strerror(rc));
  }
  if (res != nullptr) freeaddrinfo(res);
}

// Session: nothing privileged can be asked for any more, so give everything up for good and
// become the session's user (see the top of this file for why not nopriv_user), chrooted into
// secure_chroot_dir under the monitor's seccomp policy. What it needs from the file system is
// taken first: the time zone (transfer logs, syslog), pasv_address's address; the journal's
// socket and the transfer logs are open already.
void ConfineSessionMonitor(Monitor& m, pid_t keeper, volatile std::uint32_t* report) {
  const Config& config = m.config();
  tzset();
  if (config.pasv_addr_resolve) ResolvePasvAddress(m);
  MonitorJailSpec spec;
  spec.root = config.secure_chroot_dir;
  spec.uid = m.account.uid;
  spec.gid = m.account.gid;
  spec.parent = keeper;
  spec.rootless = m.session->rootless;
  spec.capabilities = SessionMonitorCapabilities(config, m.account.anonymous_login);
  spec.seccomp = config.seccomp_sandbox;
  spec.sandbox.children = {m.child, m.tls.pid};
  spec.sandbox.chown_uploads = config.chown_uploads && m.account.anonymous_login;
  spec.sandbox.log_only = config.seccomp_log_only;
  spec.sandbox.report = report;
  // Test builds only: the privilege audit's check of the keeper's report of this process's
  // forbidden calls.
  const bool forbidden = KEEPFTPD_TEST_HOOKS && getenv("KEEPFTPD_TEST_MONITOR_PTRACE") != nullptr;
  Status s = ConfineMonitor(spec);
  if (!s.ok()) Fatal("monitor: " + s.message());
  if (forbidden) syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
}

constexpr int kReinExit = 75;  // the session's monitor to the keeper: the client sent REIN

// After a login: forks the session's monitor, which starts the session jail, drops every
// privilege and returns to serve the session's requests. The keeper waits for it, then ends the
// connection or, after REIN, starts a new pre-login jail and returns to serve it.
void StartSessionMonitor(Monitor& m) {
  pid_t keeper = getpid();
  // Where the session's monitor's SIGSYS handler leaves the number of a forbidden call.
  void* shared = mmap(nullptr, sizeof(std::uint32_t), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) Fatal(Status::FromErrno(errno, "mmap").message());
  auto* report = static_cast<volatile std::uint32_t*>(shared);
  pid_t pid = fork();
  if (pid < 0) Fatal(Status::FromErrno(errno, "fork").message());
  if (pid == 0) {
    m.pam = nullptr;  // the keeper's to close
    StartSession(m);
    SetProcTitle(m.session->peer.HostString() + ": " + m.account.name + ": monitor");
    ConfineSessionMonitor(m, keeper, report);
    m.privileged = false;
    // The plaintext control end is the session jail's now.
    if (m.tls.active) UniqueFd(std::exchange(m.session->control_fd, -1)).Reset();
    return;
  }
  SetProcTitle(m.session->peer.HostString() + ": " + m.account.name + ": keeper");
  m.channel.Reset();
  m.pasv_listener.Reset();
  m.child = -1;
  // The keeper's privileges serve only a new login after REIN and closing the session's PAM
  // session and utmp records. Without either, it waits as the session's user with no
  // capabilities (that uid, so that its death still ends the session's monitor: the kernel
  // sends a parent-death signal with the dying parent's credentials).
  if (!m.session->rootless && !m.main_config->session_support &&
      !ReinAfterLogin(m.config(), false)) {
    Status dropped = DropToUser("keeper", m.account.uid, m.account.gid);
    if (!dropped.ok() || setuid(0) == 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
      Fatal("keeper: could not drop its privileges" +
            (dropped.ok() ? std::string() : " (" + dropped.message() + ")"));
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // A forbidden system call the session's monitor made (its SIGSYS handler wrote it here + 1).
  const std::uint32_t reported = *report;
  LogExit("the session's monitor", status,
          reported != 0 ? std::optional(reported - 1) : std::nullopt, false);
  munmap(shared, sizeof(std::uint32_t));
  // session_support: the session is over (logged out, REIN, or gone).
  if (m.main_config->session_support) {
    if (m.pam != nullptr) PamCloseSession(std::exchange(m.pam, nullptr));
    UwtmpLogout(getpid());
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != kReinExit) {
    EndConnection(m, false, WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1);
  }
  StartPrelogin(m, PreloginGreeting::kReinit);
}

}  // namespace

void RunMonitor(const Config& config, const SessionInfo& session) {
  static Monitor m;
  static SessionInfo info = session;
  m.main_config = &config;
  m.session = &info;
  m.admissions = Admissions(config.proxy_protocol);
  SetFatalHook([] { if (m.child > 0) KillAndReap(m.child); });  // the jail goes with us
  signal(SIGPIPE, SIG_IGN);
  if (config.seccomp_sandbox && config.seccomp_log_only) {
    Log(kLogWarning, "seccomp_log_only=YES: the jails' forbidden system calls run and are only "
                     "logged by the kernel (journalctl -k: audit type=1326); use this to "
                     "diagnose a policy, never in production");
  }
  if (!config.seccomp_sandbox) {
    Log(kLogWarning, "seccomp_sandbox=NO: the jails run without system call filters; use this "
                     "for debugging only");
  }
  if (config.proxy_protocol) {
    RefuseUntrustedProxy(config, info);  // the client's own address is checked for bans later
  } else {
    RefuseBannedAddress(config, info);
  }
  m.started_ms = NowMs();
  m.started_realtime = static_cast<std::int64_t>(time(nullptr));
  LogEventRecord(kLogInfo, "session start",
                 {.command = "SESSION", .result = "start", .connect_line = !config.proxy_protocol});
  // After the refusals (a banned or untrusted address costs no more than before), before the
  // first fork.
  NarrowMonitorBoundingSet(config, info.rootless);
  if (config.implicit_ssl) {
    // Implicit FTPS: the TLS handshake comes first, then the banner inside it.
    Status s = ActivateTls(m);
    if (!s.ok()) Fatal(s.message());
  } else if (EveryLoginNeedsTls(config)) {
    // Before the pre-login jail: building the TLS context is the longest step before the 234,
    // and the pre-login jail's new namespaces take its parent about a millisecond. (Like the
    // implicit_ssl path, this fork comes before the monitor trims its capabilities; the TLS
    // jail's process reads only the configured files before it drops them all.)
    StartTlsJail(m);
  }
  SetProcTitle(session.peer.HostString() + ": monitor");
  StartPrelogin(m, PreloginGreeting::kBanner);
  TrimCapabilities(config, info.rootless);
  while (true) {
    // The TLS jail's log records, and the jail's next request.
    pollfd p[2] = {{m.channel.get(), POLLIN, 0}, {m.tls.channel.get(), POLLIN, 0}};
    int ready = poll(p, m.tls.channel.valid() ? 2 : 1, -1);
    if (ready < 0 && errno != EINTR) Fatal(Status::FromErrno(errno, "poll").message());
    if (m.tls.channel.valid() && p[1].revents != 0) DrainTlsChannel(m);
    if (p[0].revents == 0) continue;
    if (DispatchNext(m, m.channel.get(), m.phase, m.child_name) == ReceiveOutcome::kClosed) {
      ReapChild(m, 0);
    } else if (m.phase == Phase::kClosing) {
      ReapChild(m, kHandOverMs);
    }
    if (m.child > 0) continue;
    Monitor::Next next = std::exchange(m.next, Monitor::Next::kEnd);
    if (next == Monitor::Next::kSession && m.privileged) {
      if (!m.tls.active && m.tls.pid > 0) StopTlsJail(m);  // prepared for a login without TLS
      StartSessionMonitor(m);
    } else if (next == Monitor::Next::kPrelogin && !m.privileged) {
      _exit(kReinExit);  // the keeper starts the new pre-login jail
    } else {
      EndConnection(m);
    }
  }
}

}  // namespace keepftpd
