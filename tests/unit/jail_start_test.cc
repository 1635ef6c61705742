// Tests for src/monitor/jail_start.cc. Each EnterJail runs in a forked child as root (skipped
// otherwise) with a temporary root-owned directory as the root and uid/gid 65534; the child
// writes what it observes afterwards ("key=value" lines) on a kept pipe, and the parent checks:
// the root is that directory, the ids are the jail's and cannot be undone, no capability is
// left, no_new_privs and the rlimits are set, fork fails, only the kept descriptors are open.
// Refusals (a writable root, a missing root, uid 0) name what is wrong; with seccomp the filter
// is on; a jail whose monitor is gone does not start. And UserNamespaceRefused's advice.
#include "jail_start.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "ipc.h"
#include "test_support.h"
#include "wire.h"

namespace keepftpd {
namespace {

constexpr uid_t kNobody = 65534;
// Where the child's report pipe and one more kept descriptor sit; 30 and 31 are strays.
constexpr int kReportFd = 20;
constexpr int kKeptFd = 21;
constexpr int kStrayFds[] = {30, 31};

// A root-owned 0755 directory under /tmp holding the file "marker", removed afterwards.
class JailRoot {
 public:
  JailRoot() {
    char path[] = "/tmp/keepftpd-jail-test-XXXXXX";
    CHECK_OR_RETURN(mkdtemp(path) != nullptr);
    path_ = path;
    CHECK(chmod(path, 0755) == 0);
    UniqueFd f(open((path_ + "/marker").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    CHECK(f.valid());
  }
  ~JailRoot() {
    if (path_.empty()) return;
    unlink((path_ + "/marker").c_str());
    rmdir(path_.c_str());
  }
  JailRoot(const JailRoot&) = delete;
  JailRoot& operator=(const JailRoot&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

JailSpec Spec(const std::string& root) {
  JailSpec spec;
  spec.name = "test";
  spec.uid = kNobody;
  spec.gid = kNobody;
  spec.root = root;
  spec.seccomp = false;
  return spec;
}

struct Outcome {
  int status = -1;                         // from waitpid
  std::map<std::string, std::string> seen;  // the child's "key=value" lines
};

// Appends "key=value\n" to the report.
void Put(std::string* report, const char* key, const std::string& value) {
  *report += std::string(key) + "=" + value + "\n";
}
void Put(std::string* report, const char* key, long value) {
  Put(report, key, std::to_string(value));
}

// Forks; the child puts its report pipe at kReportFd, opens kKeptFd and the strays, runs
// EnterJail(spec, {kReportFd, kKeptFd, extra_keep}) and writes "enter=ok" or "enter=<message>",
// then, if in, what observe adds; then it exits 0. The parent reads until the child is gone.
Outcome Run(const JailSpec& spec, const std::function<void(std::string*)>& observe,
            int extra_keep = -1) {
  Outcome out;
  int fds[2];
  CHECK_OR_RETURN(pipe2(fds, O_CLOEXEC) == 0, out);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  const pid_t pid = fork();
  CHECK_OR_RETURN(pid >= 0, out);
  if (pid == 0) {
    if (dup2(write_end.get(), kReportFd) != kReportFd) _exit(70);
    if (dup2(kReportFd, kKeptFd) != kKeptFd) _exit(71);
    for (int fd : kStrayFds) {
      if (dup2(kReportFd, fd) != fd) _exit(72);
    }
    // The monitor is not dumpable, and holds root's groups; its forked child starts the same.
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    const gid_t root_groups[] = {0, 42};
    if (setgroups(2, root_groups) != 0) _exit(74);
    std::string report;
    const Status s = EnterJail(spec, {kReportFd, kKeptFd, extra_keep});
    Put(&report, "enter", s.ok() ? "ok" : s.message());
    if (s.ok()) observe(&report);
    std::string_view left = report;
    while (!left.empty()) {
      const ssize_t n = write(kReportFd, left.data(), left.size());
      if (n <= 0) _exit(73);
      left.remove_prefix(static_cast<std::size_t>(n));
    }
    _exit(0);
  }
  write_end.Reset();
  const std::string text = test::ReadAll(read_end.get());
  CHECK(waitpid(pid, &out.status, 0) == pid);
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos) out.seen[line.substr(0, eq)] = line.substr(eq + 1);
    start = end + 1;
  }
  return out;
}

// What the child said for key, or "(none)".
std::string Seen(const Outcome& o, const char* key) {
  auto it = o.seen.find(key);
  return it != o.seen.end() ? it->second : "(none)";
}

bool NeedsRoot() {
  if (geteuid() == 0) return false;
  MESSAGE("skipped: needs root");
  return true;
}

std::string Limit(int resource) {
  rlimit rl;
  if (getrlimit(resource, &rl) != 0) return "error";
  return std::to_string(rl.rlim_cur) + "/" + std::to_string(rl.rlim_max);
}

// The descriptors open among 0..255, as "a,b,c".
std::string OpenFds() {
  std::string out;
  for (int fd = 0; fd < 256; ++fd) {
    if (fcntl(fd, F_GETFD) < 0) continue;
    if (!out.empty()) out += ",";
    out += std::to_string(fd);
  }
  return out;
}

// The supplementary groups, as "a,b,c".
std::string Groups() {
  gid_t groups[64];
  const int n = getgroups(64, groups);
  if (n < 0) return "error";
  std::string out;
  for (int i = 0; i < n; ++i) out += (i == 0 ? "" : ",") + std::to_string(groups[i]);
  return out;
}

// Every capability set of this thread, bounding set included, is empty.
bool NoCapabilities() {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  for (const auto& d : data) {
    if (d.effective != 0 || d.permitted != 0 || d.inheritable != 0) return false;
  }
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0) return false;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) != 0) return false;
  }
  return true;
}

TEST_CASE("EnterJail: the child is in its root, as the jail's user, with nothing to get back") {
  if (NeedsRoot()) return;
  JailRoot root;
  struct stat root_st;
  CHECK_OR_RETURN(stat(root.path().c_str(), &root_st) == 0);
  JailSpec spec = Spec(root.path());
  spec.refuse_writable_root = true;  // root owns it: not refused
  spec.max_open_files = 24;
  spec.max_address_space = 300ul << 20;

  const Outcome o = Run(spec, [](std::string* r) {
    struct stat st;
    Put(r, "root", stat("/", &st) == 0 ? std::to_string(st.st_dev) + ":" +
                                              std::to_string(st.st_ino)
                                        : "error");
    Put(r, "marker", access("/marker", F_OK) == 0 ? "visible" : "missing");
    char cwd[256] = "";
    Put(r, "cwd", getcwd(cwd, sizeof(cwd)) != nullptr ? cwd : "error");
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    getresuid(&ru, &eu, &su);
    getresgid(&rg, &eg, &sg);
    Put(r, "uids", std::to_string(ru) + "," + std::to_string(eu) + "," + std::to_string(su));
    Put(r, "gids", std::to_string(rg) + "," + std::to_string(eg) + "," + std::to_string(sg));
    Put(r, "groups", Groups());
    Put(r, "no_capabilities", NoCapabilities() ? "yes" : "no");
    Put(r, "setuid0", setuid(0) == 0 ? "worked" : std::strerror(errno));
    Put(r, "setgid0", setgid(0) == 0 ? "worked" : std::strerror(errno));
    Put(r, "no_new_privs", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    Put(r, "dumpable", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
    int deathsig = 0;
    prctl(PR_GET_PDEATHSIG, &deathsig, 0, 0, 0);
    Put(r, "pdeathsig", deathsig);
    Put(r, "seccomp", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    Put(r, "nproc", Limit(RLIMIT_NPROC));
    Put(r, "core", Limit(RLIMIT_CORE));
    Put(r, "nofile", Limit(RLIMIT_NOFILE));
    Put(r, "as", Limit(RLIMIT_AS));
    const pid_t child = fork();
    if (child == 0) _exit(0);
    if (child > 0) waitpid(child, nullptr, 0);
    Put(r, "fork", child < 0 ? std::strerror(errno) : "worked");
    Put(r, "fds", OpenFds());
    Put(r, "write_root", access("/", W_OK) == 0 ? "yes" : "no");
  });
  CHECK(o.status == 0);
  CHECK_OR_RETURN(Seen(o, "enter") == "ok");
  CHECK(Seen(o, "root") == std::to_string(root_st.st_dev) + ":" + std::to_string(root_st.st_ino));
  CHECK(Seen(o, "marker") == "visible");
  CHECK(Seen(o, "cwd") == "/");
  CHECK(Seen(o, "uids") == "65534,65534,65534");
  CHECK(Seen(o, "gids") == "65534,65534,65534");
  CHECK(Seen(o, "groups") == "");  // root's are gone
  CHECK(Seen(o, "no_capabilities") == "yes");
  CHECK(Seen(o, "setuid0") == std::strerror(EPERM));
  CHECK(Seen(o, "setgid0") == std::strerror(EPERM));
  CHECK(Seen(o, "write_root") == "no");
  CHECK(Seen(o, "no_new_privs") == "1");
  // Not dumpable: no process of the jail's user may trace it or read its memory. EnterJail sets
  // this after the change of ids, which set the flag from fs.suid_dumpable (1 would allow it).
  CHECK(Seen(o, "dumpable") == "0");
  CHECK(Seen(o, "pdeathsig") == std::to_string(SIGKILL));
  CHECK(Seen(o, "seccomp") == "0");  // spec.seccomp is false: the sandbox has its own test
  CHECK(Seen(o, "nproc") == "0/0");
  CHECK(Seen(o, "core") == "0/0");
  CHECK(Seen(o, "nofile") == "24/24");
#if !KEEPFTPD_SANITIZED
  CHECK(Seen(o, "as") == std::to_string(300ul << 20) + "/" + std::to_string(300ul << 20));
#endif
  CHECK(Seen(o, "fork") == std::strerror(EAGAIN));
  CHECK(Seen(o, "fds") == std::to_string(kReportFd) + "," + std::to_string(kKeptFd));
}

TEST_CASE("EnterJail gives a local user's jail the groups the monitor looked up") {
  if (NeedsRoot()) return;
  JailRoot root;
  JailSpec spec = Spec(root.path());
  spec.groups = {1234, 5678};
  const Outcome o = Run(spec, [](std::string* r) { Put(r, "groups", Groups()); });
  CHECK(Seen(o, "enter") == "ok");
  CHECK(Seen(o, "groups") == "1234,5678");
}

TEST_CASE("EnterJail refuses a root the jail's user can write, and says how to fix it") {
  if (NeedsRoot()) return;
  JailRoot root;
  JailSpec spec = Spec(root.path());
  spec.refuse_writable_root = true;
  spec.writable_root_hint = "or use a subdirectory";
  SUBCASE("owned by the user") { CHECK(chown(root.path().c_str(), kNobody, kNobody) == 0); }
  SUBCASE("writable by everyone") { CHECK(chmod(root.path().c_str(), 0777) == 0); }
  const Outcome o = Run(spec, [](std::string*) {});
  CHECK(o.status == 0);
  CHECK(Seen(o, "enter") == "refusing to run with a root directory the user can write (" +
                              root.path() + "): make it owned by root and not writable by the "
                              "user, or use a subdirectory");
  // Without refuse_writable_root the same root is taken.
  spec.refuse_writable_root = false;
  CHECK(Seen(Run(spec, [](std::string*) {}), "enter") == "ok");
}

TEST_CASE("EnterJail fails on a root that does not exist, naming it") {
  if (NeedsRoot()) return;
  JailRoot root;
  const std::string missing = root.path() + "/missing";
  const Outcome o = Run(Spec(missing), [](std::string*) {});
  CHECK(o.status == 0);
  CHECK(Seen(o, "enter") == "chroot to " + missing + ": " + std::strerror(ENOENT));
}

TEST_CASE("EnterJail refuses uid 0 before it changes anything") {
  if (NeedsRoot()) return;
  JailRoot root;
  JailSpec spec = Spec(root.path());
  spec.uid = 0;
  const Outcome o = Run(spec, [](std::string*) {});
  CHECK(Seen(o, "enter") == "test: refusing to run as root");
}

TEST_CASE("with seccomp, EnterJail ends in the jail's filter: a forbidden call is stopped and "
          "reported") {
  if (NeedsRoot()) return;
  JailRoot root;
  UniqueFd monitor_end, jail_end;
  CHECK_OR_RETURN(MakeChannel(&monitor_end, &jail_end).ok());
  JailSpec spec = Spec(root.path());
  spec.seccomp = true;
  spec.sandbox = SandboxKind::kPrelogin;
  spec.channel = jail_end.get();
  // The child writes its report (write is allowed), then tries to open a socket.
  Outcome o = Run(
      spec,
      [](std::string* r) {
        Put(r, "socket", "next");
        std::string_view left = *r;
        while (!left.empty()) {
          const ssize_t n = write(kReportFd, left.data(), left.size());
          if (n <= 0) break;
          left.remove_prefix(static_cast<std::size_t>(n));
        }
        r->clear();
        socket(AF_INET, SOCK_STREAM, 0);
        Put(r, "socket", "returned");
      },
      jail_end.get());
  jail_end.Reset();
  CHECK(Seen(o, "enter") == "ok");
  CHECK(Seen(o, "socket") == "next");
  CHECK(WIFEXITED(o.status));
  CHECK(WEXITSTATUS(o.status) == kSeccompExitStatus);
  Message m;
  std::string error;
  CHECK_OR_RETURN(ReceiveMessage(monitor_end.get(), &m, &error) == ReceiveOutcome::kMessage);
  CHECK(m.type == MsgType::kSeccompReport);
  WireReader reader(m.body);
  std::uint32_t nr = 0;
  reader.GetU32(&nr);
  CHECK(reader.Finish());
  CHECK(nr == SYS_socket);
  CHECK(ReceiveMessage(monitor_end.get(), &m, &error) == ReceiveOutcome::kClosed);
}

TEST_CASE("a jail whose monitor is already gone does not start") {
  if (NeedsRoot()) return;
  JailRoot root;
  UniqueFd monitor_end, jail_end;
  CHECK_OR_RETURN(MakeChannel(&monitor_end, &jail_end).ok());
  monitor_end.Reset();
  JailSpec spec = Spec(root.path());
  spec.channel = jail_end.get();
  const Outcome o = Run(
      spec, [](std::string* r) { Put(r, "went", "on"); }, jail_end.get());
  CHECK(WIFEXITED(o.status));
  CHECK(WEXITSTATUS(o.status) == 1);
  CHECK(o.seen.empty());
}

TEST_CASE("UserNamespaceRefused names the errno and what to change") {
  for (int err : {EPERM, ENOSPC, EINVAL}) {
    const std::string m = UserNamespaceRefused(err);
    INFO(m);
    CHECK(m.find(std::strerror(err)) != std::string::npos);
    CHECK(m.find("run_as_launching_user=YES") == 0);
    CHECK(m.find("user.max_user_namespaces") != std::string::npos);         // ENOSPC
    CHECK(m.find("kernel.unprivileged_userns_clone=1") != std::string::npos);  // EPERM
    CHECK(m.find("kernel.apparmor_restrict_unprivileged_userns=0") != std::string::npos);
    CHECK(m.find("seccomp profile that allows clone with CLONE_NEWUSER") != std::string::npos);
    CHECK(m.find("run keepftpd as root with run_as_launching_user=NO") != std::string::npos);
  }
}

}  // namespace
}  // namespace keepftpd
