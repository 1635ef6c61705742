// Tests for src/entry/activation.cc: the connection is found on fd 0 (inetd, xinetd) or as the
// one socket systemd passed (LISTEN_FDS, LISTEN_PID), anything else is refused with what it
// is, and then only 0-2 and the connection stay open. Every case runs in a forked child that
// sets up its own descriptors and reports back over the connection or a pipe.
#include "activation.h"
#include "test_support.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "unique_fd.h"

namespace keepftpd {
namespace {

using test::ReadAll;
using test::TempFile;

// In the child, the report pipe sits here, away from the descriptors a case sets up.
constexpr int kReportFd = 200;
// Descriptors a case leaves open in the child to see that they get closed.
constexpr int kStrayFds[] = {5, 150, 500};

bool WriteAll(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// What a descriptor is, in the child's report.
std::string Kind(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return "closed";
  if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) return "null";
  if (S_ISSOCK(st.st_mode)) return "socket";
  if (S_ISFIFO(st.st_mode)) return "pipe";
  if (S_ISREG(st.st_mode)) return "file";
  return "other";
}

std::string Port(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) return "?";
  if (ss.ss_family == AF_INET) {
    return std::to_string(ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    return std::to_string(ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port));
  }
  return "?";
}

// The child's report: FindConnection's result and the descriptors and environment after it.
std::string Report(const Result<Activation>& r) {
  std::string out;
  auto put = [&out](const std::string& key, const std::string& value) {
    out += key + "=" + value + "\n";
  };
  put("ok", r.ok() ? "1" : "0");
  if (!r.ok()) put("error", r.status().message());
  if (r.ok()) {
    const int conn = r->connection.get();
    put("how", r->how);
    put("stderr_usable", r->stderr_usable ? "1" : "0");
    put("conn_is_high", conn > 2 ? "1" : "0");
    put("conn_cloexec", (fcntl(conn, F_GETFD) & FD_CLOEXEC) ? "1" : "0");
    put("conn_local_port", Port(conn, false));
    put("conn_peer_port", Port(conn, true));
  }
  for (int fd = 0; fd <= 2; ++fd) put("fd" + std::to_string(fd), Kind(fd));
  // Every open descriptor above 2, by number ("conn" for the connection).
  std::string open;
  for (int fd = 3; fd < 1024; ++fd) {
    if (fcntl(fd, F_GETFD) < 0) continue;
    const bool is_conn = r.ok() && fd == r->connection.get();
    open += (open.empty() ? "" : ",") + (is_conn ? std::string("conn") : std::to_string(fd));
  }
  put("open", open);
  put("LISTEN_FDS", getenv("LISTEN_FDS") ? getenv("LISTEN_FDS") : "unset");
  put("LISTEN_PID", getenv("LISTEN_PID") ? "set" : "unset");
  put("LISTEN_FDNAMES", getenv("LISTEN_FDNAMES") ? "set" : "unset");
  return out;
}

struct Outcome {
  std::map<std::string, std::string> report;
  int status = -1;
  std::string Get(const std::string& key) const {
    auto it = report.find(key);
    return it == report.end() ? "<none>" : it->second;
  }
  // The open descriptors above 2 the child reported.
  std::vector<std::string> Open() const {
    std::vector<std::string> out;
    const std::string list = Get("open");
    for (std::size_t start = 0; start < list.size();) {
      std::size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      out.push_back(list.substr(start, comma - start));
      start = comma + 1;
    }
    return out;
  }
};

// What one of the child's descriptors 0-4 is set to before FindConnection runs.
constexpr int kNull = -1;    // /dev/null
constexpr int kClosed = -2;  // closed
struct Slot {
  int target;
  int source;  // a descriptor of the parent, kNull or kClosed
};

// systemd's variables, set in the child (listen_pid 0: the child's own pid).
struct ListenEnv {
  const char* fds = nullptr;  // nullptr: none of them set
  pid_t pid = 0;
};

// In the child: every slot's source is first copied out of the way (the parent's descriptor
// numbers may be targets too), then put in place without close-on-exec, as a superserver
// leaves descriptors.
void Arrange(const std::vector<Slot>& slots) {
  std::vector<int> high;
  for (const Slot& s : slots) {
    int fd = -1;
    if (s.source == kNull) {
      int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
      fd = fcntl(null_fd, F_DUPFD_CLOEXEC, 300);
      close(null_fd);
    } else if (s.source >= 0) {
      fd = fcntl(s.source, F_DUPFD_CLOEXEC, 300);
    }
    if (s.source != kClosed && fd < 0) _exit(73);
    high.push_back(fd);
  }
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].source == kClosed) {
      close(slots[i].target);
    } else if (dup2(high[i], slots[i].target) != slots[i].target) {
      _exit(74);
    }
  }
  for (int fd : high) {
    if (fd >= 0) close(fd);
  }
}

// A connected loopback TCP pair: client (the parent keeps it) and server (the child gets it).
struct TcpPair {
  UniqueFd client, server;
  std::string client_port, server_port;
};

// Arranges the slots and the environment in a child, adds stray descriptors, and runs
// FindConnection. The child reports over the connection when one was found (tcp: the pair it
// should be; the parent closes its copy of the server end after the fork, so that the child's
// exit ends the stream), else over a pipe; the parent reads until the child has exited.
Outcome Run(const std::vector<Slot>& slots, ListenEnv env = {}, TcpPair* tcp = nullptr) {
  Outcome outcome;
  int fds[2];
  CHECK_OR_RETURN(pipe2(fds, O_CLOEXEC) == 0, outcome);
  UniqueFd report_read(fds[0]), report_write(fds[1]);
  const pid_t pid = fork();
  CHECK_OR_RETURN(pid >= 0, outcome);
  if (pid == 0) {
    if (dup2(report_write.get(), kReportFd) != kReportFd) _exit(70);
    Arrange(slots);
    for (int fd : kStrayFds) {
      if (dup2(kReportFd, fd) != fd) _exit(71);
    }
    if (env.fds != nullptr) {
      setenv("LISTEN_PID", std::to_string(env.pid != 0 ? env.pid : getpid()).c_str(), 1);
      setenv("LISTEN_FDS", env.fds, 1);
      setenv("LISTEN_FDNAMES", "connection", 1);
    }
    Result<Activation> r = FindConnection();
    const std::string text = Report(r);
    const bool sent = r.ok() ? WriteAll(r->connection.get(), text) : WriteAll(kReportFd, text);
    _exit(sent ? 0 : 72);
  }
  report_write.Reset();
  if (tcp != nullptr) tcp->server.Reset();
  std::string text = ReadAll(report_read.get());
  report_read.Reset();
  if (tcp != nullptr) text += ReadAll(tcp->client.get());
  CHECK(waitpid(pid, &outcome.status, 0) == pid);
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos) outcome.report[line.substr(0, eq)] = line.substr(eq + 1);
    start = end + 1;
  }
  return outcome;
}

bool ExitedCleanly(const Outcome& o) { return WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0; }

bool MakeTcpPair(int family, TcpPair* out) {
  UniqueFd listener(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return false;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof(*a);
  }
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return false;
  if (listen(listener.get(), 1) != 0) return false;
  socklen_t bound_len = sizeof(ss);
  if (getsockname(listener.get(), reinterpret_cast<sockaddr*>(&ss), &bound_len) != 0) return false;
  out->client.Reset(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!out->client.valid()) return false;
  if (connect(out->client.get(), reinterpret_cast<sockaddr*>(&ss), bound_len) != 0) return false;
  out->server.Reset(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!out->server.valid()) return false;
  out->client_port = Port(out->client.get(), false);
  out->server_port = Port(out->server.get(), false);
  return true;
}

// A listening TCP socket on a free loopback port.
UniqueFd Listening() {
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!s.valid() || bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(s.get(), 1) != 0) {
    return UniqueFd();
  }
  return s;
}

void CheckConnectionFound(const Outcome& o, const TcpPair& tcp, const char* how) {
  CHECK(ExitedCleanly(o));
  CHECK(o.Get("ok") == "1");
  CHECK(o.Get("how") == how);
  // The report came over the connection it found, and that is our pair's server end.
  CHECK(o.Get("conn_local_port") == tcp.server_port);
  CHECK(o.Get("conn_peer_port") == tcp.client_port);
  CHECK(o.Get("conn_is_high") == "1");
  CHECK(o.Get("conn_cloexec") == "1");
  // Everything above 2 but the connection is closed: the descriptor it came on, the strays,
  // the report pipe, and whatever the child inherited from this program.
  CHECK(o.Get("open") == "conn");
  // sd_listen_fds(1) unsets systemd's variables, whether or not they were for this process.
  CHECK(o.Get("LISTEN_FDS") == "unset");
  CHECK(o.Get("LISTEN_PID") == "unset");
  CHECK(o.Get("LISTEN_FDNAMES") == "unset");
}

// A pipe standing for a usable stderr.
struct StderrPipe {
  UniqueFd read_end, write_end;
  bool Make() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    read_end.Reset(fds[0]);
    write_end.Reset(fds[1]);
    return true;
  }
};

TEST_CASE("inetd: a connected TCP socket on fd 0 is the connection; 0 and 1 become /dev/null") {
  TcpPair tcp;
  StderrPipe err;
  CHECK_OR_RETURN(MakeTcpPair(AF_INET, &tcp) && err.Make());
  const int server = tcp.server.get();
  // fd 3 is taken, so the connection moves higher and 3 must be closed too.
  const Outcome o = Run({{0, server}, {1, server}, {2, err.write_end.get()}, {3, kNull}}, {},
                        &tcp);
  CheckConnectionFound(o, tcp, "inetd");
  CHECK(o.Get("stderr_usable") == "1");
  CHECK(o.Get("fd0") == "null");
  CHECK(o.Get("fd1") == "null");
  CHECK(o.Get("fd2") == "pipe");
}

TEST_CASE("xinetd: with the socket on 0, 1 and 2, stderr is unusable and becomes /dev/null") {
  TcpPair tcp;
  CHECK_OR_RETURN(MakeTcpPair(AF_INET, &tcp));
  const int server = tcp.server.get();
  const Outcome o = Run({{0, server}, {1, server}, {2, server}}, {}, &tcp);
  CheckConnectionFound(o, tcp, "inetd");
  CHECK(o.Get("stderr_usable") == "0");
  CHECK(o.Get("fd0") == "null");
  CHECK(o.Get("fd1") == "null");
  CHECK(o.Get("fd2") == "null");
}

TEST_CASE("inetd over IPv6: a connected TCP6 socket on fd 0 is the connection") {
  TcpPair tcp;
  if (!MakeTcpPair(AF_INET6, &tcp)) {
    MESSAGE("no IPv6 loopback here: case not run");
    return;
  }
  StderrPipe err;
  CHECK_OR_RETURN(err.Make());
  const Outcome o = Run({{0, tcp.server.get()}, {1, kNull}, {2, err.write_end.get()}}, {},
                        &tcp);
  CheckConnectionFound(o, tcp, "inetd");
  CHECK(o.Get("stderr_usable") == "1");
}

TEST_CASE("inetd with fd 1 or fd 2 closed: it becomes /dev/null, and stderr unusable if 2") {
  TcpPair tcp, again;
  StderrPipe err;
  CHECK_OR_RETURN(MakeTcpPair(AF_INET, &tcp) && MakeTcpPair(AF_INET, &again) && err.Make());
  const Outcome no_stderr = Run({{0, tcp.server.get()}, {1, tcp.server.get()}, {2, kClosed}}, {},
                                &tcp);
  CheckConnectionFound(no_stderr, tcp, "inetd");
  CHECK(no_stderr.Get("stderr_usable") == "0");
  CHECK(no_stderr.Get("fd0") == "null");
  CHECK(no_stderr.Get("fd1") == "null");
  CHECK(no_stderr.Get("fd2") == "null");

  const Outcome no_stdout = Run({{0, again.server.get()}, {1, kClosed}, {2, err.write_end.get()}},
                                {}, &again);
  CheckConnectionFound(no_stdout, again, "inetd");
  CHECK(no_stdout.Get("stderr_usable") == "1");
  CHECK(no_stdout.Get("fd0") == "null");
  CHECK(no_stdout.Get("fd1") == "null");
  CHECK(no_stdout.Get("fd2") == "pipe");
}

TEST_CASE("systemd: the one socket passed as fd 3 for this pid is the connection") {
  TcpPair tcp;
  StderrPipe err;
  CHECK_OR_RETURN(MakeTcpPair(AF_INET, &tcp) && err.Make());
  const Outcome o = Run({{0, kNull}, {1, kNull}, {2, err.write_end.get()}, {3, tcp.server.get()}},
                        {"1"}, &tcp);
  CheckConnectionFound(o, tcp, "systemd");
  CHECK(o.Get("stderr_usable") == "1");
  CHECK(o.Get("fd0") == "null");
  CHECK(o.Get("fd1") == "null");
  CHECK(o.Get("fd2") == "pipe");
}

TEST_CASE("systemd: the socket passed wins over a connected socket on fd 0") {
  TcpPair passed, on_stdin;
  CHECK_OR_RETURN(MakeTcpPair(AF_INET, &passed) && MakeTcpPair(AF_INET, &on_stdin));
  const Outcome o = Run({{0, on_stdin.server.get()}, {1, kNull}, {2, kNull},
                         {3, passed.server.get()}},
                        {"1"}, &passed);
  CheckConnectionFound(o, passed, "systemd");
  CHECK(o.Get("fd0") == "null");
}

TEST_CASE("LISTEN_PID of another process is not ours: fd 0 is used, and the variables unset") {
  TcpPair tcp, decoy;
  CHECK_OR_RETURN(MakeTcpPair(AF_INET, &tcp) && MakeTcpPair(AF_INET, &decoy));
  // The parent's pid: certainly not the child's. The socket on 3 is closed like any other.
  const Outcome o = Run({{0, tcp.server.get()}, {1, kNull}, {2, kNull}, {3, decoy.server.get()}},
                        {"1", getpid()}, &tcp);
  CheckConnectionFound(o, tcp, "inetd");
}


// A refusal leaves every descriptor as it was: the strays, the report pipe, fd 1.
void CheckUntouched(const Outcome& o) {
  CHECK(o.Get("fd1") == "null");
  const std::vector<std::string> open = o.Open();
  for (const char* fd : {"5", "150", "200", "500"}) {
    CHECK_MESSAGE(std::find(open.begin(), open.end(), fd) != open.end(), fd, " was closed");
  }
}

TEST_CASE("systemd passing more than one socket is refused: Accept=yes gives exactly one") {
  TcpPair a, b;
  CHECK_OR_RETURN(MakeTcpPair(AF_INET, &a) && MakeTcpPair(AF_INET, &b));
  const Outcome o = Run({{0, kNull}, {1, kNull}, {3, a.server.get()}, {4, b.server.get()}}, {"2"});
  CHECK(ExitedCleanly(o));
  CHECK(o.Get("ok") == "0");
  CHECK(o.Get("error").find("systemd passed 2 sockets; keepftpd needs exactly one connection "
                            "(Accept=yes).") == 0);
  CHECK(o.Get("error").find("See keepftpd(8).") != std::string::npos);
  CHECK(o.Get("LISTEN_FDS") == "unset");
  CheckUntouched(o);
}

TEST_CASE("systemd passing a listening socket is refused with a hint to set Accept=yes") {
  UniqueFd listening = Listening();
  CHECK_OR_RETURN(listening.valid());
  const Outcome o = Run({{0, kNull}, {1, kNull}, {3, listening.get()}}, {"1"});
  CHECK(ExitedCleanly(o));
  CHECK(o.Get("ok") == "0");
  CHECK(o.Get("error").find("the socket systemd passed is a listening socket; set Accept=yes in "
                            "the socket unit.") == 0);
  CheckUntouched(o);
}

TEST_CASE("systemd passing a pipe is refused, saying it is a pipe") {
  StderrPipe p;
  CHECK_OR_RETURN(p.Make());
  const Outcome o = Run({{0, kNull}, {1, kNull}, {3, p.read_end.get()}}, {"1"});
  CHECK(ExitedCleanly(o));
  CHECK(o.Get("error").find("the socket systemd passed is a pipe;") == 0);
  CheckUntouched(o);
}

TEST_CASE("A LISTEN_FDS that is not a positive number is refused with the errno text") {
  for (const char* value : {"one", "", "0", "-1", "1x"}) {
    CAPTURE(value);
    const Outcome o = Run({{0, kNull}, {1, kNull}}, {value});
    CHECK(ExitedCleanly(o));
    CHECK(o.Get("ok") == "0");
    CHECK(o.Get("error") == std::string("reading LISTEN_FDS: ") + std::strerror(EINVAL));
    CHECK(o.Get("LISTEN_FDS") == "unset");
    CheckUntouched(o);
  }
}

// fd 0 that is not a connected TCP socket, refused with what it is.
void CheckStdinRefused(int source, const std::string& what) {
  CAPTURE(what);
  const Outcome o = Run({{0, source}, {1, kNull}});
  CHECK(ExitedCleanly(o));
  CHECK(o.Get("ok") == "0");
  CHECK(o.Get("error").find("standard input is " + what + ", not a connected TCP socket. "
                            "keepftpd serves one connection handed over by its superserver") ==
        0);
  CheckUntouched(o);
}

TEST_CASE("Without systemd, fd 0 that is not a connected TCP socket is refused, saying what it is") {
  StderrPipe pipe_fds;
  CHECK_OR_RETURN(pipe_fds.Make());
  CheckStdinRefused(pipe_fds.read_end.get(), "a pipe");

  UniqueFd listening = Listening();
  CHECK_OR_RETURN(listening.valid());
  CheckStdinRefused(listening.get(), "a listening socket");

  CheckStdinRefused(kNull, "a character device");
  CheckStdinRefused(kClosed, "closed");

  UniqueFd file(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  CHECK_OR_RETURN(file.valid());
  CheckStdinRefused(file.get(), "a regular file");

  int sv[2];
  CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd unix_a(sv[0]), unix_b(sv[1]);
  CheckStdinRefused(unix_a.get(), "a socket that is not a connected TCP socket");

  UniqueFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  CHECK_OR_RETURN(udp.valid());
  CheckStdinRefused(udp.get(), "a socket that is not a connected TCP socket");

  // A TCP socket that was never connected: it has no client to serve.
  UniqueFd unconnected(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  CHECK_OR_RETURN(unconnected.valid());
  CheckStdinRefused(unconnected.get(), "a socket that is not a connected TCP socket");
}

TEST_CASE("Without systemd, a terminal on fd 0 is refused as a terminal") {
  UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid() || grantpt(master.get()) != 0 || unlockpt(master.get()) != 0) {
    MESSAGE("no pseudo-terminal here: case not run");
    return;
  }
  char name[128];
  CHECK_OR_RETURN(ptsname_r(master.get(), name, sizeof(name)) == 0);
  UniqueFd terminal(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  CHECK_OR_RETURN(terminal.valid());
  CheckStdinRefused(terminal.get(), "a terminal");
}

}  // namespace
}  // namespace keepftpd
