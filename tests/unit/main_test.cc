// Tests for src/entry/main.cc: the command line as an administrator uses it. Main runs in a
// forked child with its standard output and error read by the test: --help, --version, an
// unknown argument, --check-config of a good and of a bad file, --from-vsftpd, and a start
// that is not on a connection.
#include "main.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "build_config.h"
#include "test_support.h"

namespace keepftpd {
namespace {

struct Run {
  int status = -1;  // as waitpid gives it
  std::string out, err;
  bool Exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
};

// Reads both pipes to their ends, each poll bounded, so that a hung Main fails the test.
void Drain(int out_fd, int err_fd, Run* run) {
  std::vector<pollfd> fds = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    int r = poll(fds.data(), fds.size(), 10000);
    CHECK_OR_RETURN(r > 0);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? run->out : run->err).append(buf, static_cast<std::size_t>(n));
    }
  }
}

// Main(args) in a forked child, with /dev/null as standard input.
Run RunMain(std::vector<std::string> args) {
  Run run;
  int out[2], err[2];
  CHECK_OR_RETURN(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0, run);
  fflush(stdout);  // what this program has buffered is not the child's to write
  fflush(stderr);
  pid_t pid = fork();
  CHECK_OR_RETURN(pid >= 0, run);
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) _exit(99);
    args.insert(args.begin(), "keepftpd");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = Main(static_cast<int>(args.size()), argv.data());
    fflush(stdout);
    fflush(stderr);
    _exit(rc);
  }
  close(out[1]);
  close(err[1]);
  Drain(out[0], err[0], &run);
  close(out[0]);
  close(err[0]);
  CHECK(waitpid(pid, &run.status, 0) == pid);
  return run;
}

// A directory under /tmp with the files a test writes, removed at the end.
class TempDir {
 public:
  TempDir() {
    char path[] = "/tmp/keepftpd-main-test-XXXXXX";
    CHECK(mkdtemp(path) != nullptr);
    path_ = path;
  }
  ~TempDir() {
    if (!path_.empty()) CHECK(system(("rm -rf '" + path_ + "'").c_str()) == 0);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ + "/" + name) << text;
    return path_ + "/" + name;
  }
  std::string Mkdir(const std::string& name, mode_t mode) const {
    CHECK(mkdir((path_ + "/" + name).c_str(), mode) == 0);
    return path_ + "/" + name;
  }
  std::string Read(const std::string& name) const {
    std::ifstream in(path_ + "/" + name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_CASE("--help prints the usage on standard output and exits 0") {
  Run r = RunMain({"--help"});
  CHECK(r.Exited(0));
  CHECK(r.out.starts_with("Usage: keepftpd "));
  CHECK(Contains(r.out, "--check-config"));
  CHECK(r.err.empty());
}

TEST_CASE("--version prints the version and exits 0") {
  Run r = RunMain({"--version"});
  CHECK(r.Exited(0));
  CHECK(r.out == "keepftpd " KEEPFTPD_VERSION "\n");
}

TEST_CASE("an unknown argument is named on standard error with the usage, and exits 2") {
  Run r = RunMain({"--frobnicate"});
  CHECK(r.Exited(2));
  CHECK(r.out.empty());
  CHECK(r.err.starts_with("keepftpd: unknown argument '--frobnicate'"));
  CHECK(Contains(r.err, "Usage: keepftpd "));
  // An option that needs a value and has none is unknown too.
  CHECK(RunMain({"--config"}).Exited(2));
}

TEST_CASE("--check-config of a file with an unknown option names file, line and option, exit 1") {
  TempDir d;
  const std::string conf = d.Write("bad.conf", "anonymous_enable=NO\nfrobnicate=YES\n");
  Run r = RunMain({"--config", conf, "--check-config"});
  CHECK(r.Exited(1));
  CHECK(Contains(r.out + r.err, conf + ":2: frobnicate: unknown option"));
  CHECK_FALSE(Contains(r.out, "OK"));
}

TEST_CASE("--check-config of a file that can serve prints OK and exits 0") {
  TempDir d;
  const std::string empty = d.Mkdir("empty", 0755);
  const std::string state = d.Mkdir("state", 0700);
  const std::string conf =
      d.Write("ok.conf", "anonymous_enable=NO\nlocal_enable=YES\npam_service_name=other\n"
                         "secure_chroot_dir=" + empty + "\nlogin_state_dir=" + state +
                         "\nnopriv_user=nobody\n");
  Run r = RunMain({"--config=" + conf, "--check-config"});
  CHECK_MESSAGE(r.Exited(0), r.out << r.err);
  CHECK(r.out == "OK\n");
}

TEST_CASE("--from-vsftpd writes keepftpd.conf, the socket override and the xinetd entry") {
  TempDir d;
  const std::string vsftpd =
      d.Write("vsftpd.conf", "listen=NO\nanonymous_enable=YES\nftpd_banner=Hello there\n");
  const std::string out = d.Mkdir("out", 0755);
  Run r = RunMain({"--from-vsftpd", vsftpd, "--out", out});
  CHECK_MESSAGE(r.Exited(0), r.out << r.err);
  CHECK(Contains(d.Read("out/keepftpd.conf"), "ftpd_banner=Hello there"));
  CHECK(access((out + "/ftp.socket.d/override.conf").c_str(), F_OK) == 0);
  CHECK(access((out + "/xinetd.d/keepftpd").c_str(), F_OK) == 0);
}

TEST_CASE("started without a connection on standard input, it says so and exits 2") {
  Run r = RunMain({});
  CHECK(r.Exited(2));
  CHECK(Contains(r.err, "not a connected TCP socket"));
  CHECK(Contains(r.err, "keepftpd(8)"));
}

}  // namespace
}  // namespace keepftpd
