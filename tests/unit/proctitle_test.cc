// Tests for src/common/proctitle.cc: the title is written over the contiguous argument strings,
// cut to their size, control bytes replaced, the rest zeroed, nothing outside touched; and in a
// real process /proc/self/cmdline shows it.
#include "proctitle.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "test_support.h"

namespace keepftpd {
namespace {

using test::ReadAll;
using test::TempFile;

// The real argv of this program. glibc calls the functions of .init_array with (argc, argv,
// envp), the same argv main gets; the strings are the kernel's argument area.
int g_real_argc = 0;
char** g_real_argv = nullptr;
__attribute__((constructor)) void SaveRealArgs(int argc, char** argv, char** /*envp*/) {
  g_real_argc = argc;
  g_real_argv = argv;
}

constexpr char kGuard = '#';

// An argument area like the kernel's: the strings one after the other, each with its NUL, with
// guard bytes on both sides to catch writes outside it. The module keeps a pointer to the area,
// so the destructor points it at a static one-byte area (too small to write to) and disables.
class FakeArgs {
 public:
  explicit FakeArgs(const std::vector<std::string>& args) {
    buffer_.assign(8, kGuard);
    std::vector<std::size_t> offsets;
    for (const std::string& a : args) {
      offsets.push_back(buffer_.size());
      buffer_ += a;
      buffer_.push_back('\0');
    }
    area_size_ = buffer_.size() - 8;
    buffer_.append(8, kGuard);
    for (std::size_t off : offsets) argv_.push_back(&buffer_[off]);
    argv_.push_back(nullptr);
  }
  ~FakeArgs() {
    static char empty[1] = {'\0'};
    static char* empty_argv[] = {empty, nullptr};
    InitProcTitle(1, empty_argv);
    EnableProcTitle(false);
  }
  FakeArgs(const FakeArgs&) = delete;
  FakeArgs& operator=(const FakeArgs&) = delete;

  int argc() const { return static_cast<int>(argv_.size()) - 1; }
  char** argv() { return argv_.data(); }
  // The argument area as it is now.
  std::string Area() const { return buffer_.substr(8, area_size_); }
  bool GuardsIntact() const {
    return buffer_.substr(0, 8) == std::string(8, kGuard) &&
           buffer_.substr(8 + area_size_) == std::string(8, kGuard);
  }

 private:
  std::string buffer_;
  std::size_t area_size_ = 0;
  std::vector<char*> argv_;
};

// What an area of `size` bytes must hold after SetProcTitle(title).
std::string Expected(std::string_view title, std::size_t size) {
  std::string text = "keepftpd: " + std::string(title);
  text = text.substr(0, size - 1);
  text.resize(size, '\0');
  return text;
}

TEST_CASE("The title is written over all contiguous arguments, and the rest of the area zeroed") {
  FakeArgs args({"/usr/sbin/keepftpd", "--config", "/etc/keepftpd.conf"});
  const std::size_t size = 19 + 9 + 19;
  CHECK(args.Area().size() == size);
  InitProcTitle(args.argc(), args.argv());
  EnableProcTitle(true);
  SetProcTitle("192.0.2.7: alice: RETR");
  CHECK(args.Area() == Expected("192.0.2.7: alice: RETR", size));
  CHECK(args.Area().substr(0, 33) == std::string("keepftpd: 192.0.2.7: alice: RETR") + '\0');
  CHECK(args.GuardsIntact());
}

TEST_CASE("A shorter title leaves nothing of the longer one before it") {
  FakeArgs args({"keepftpd", "--config", "/etc/keepftpd.conf"});
  InitProcTitle(args.argc(), args.argv());
  EnableProcTitle(true);
  SetProcTitle("192.0.2.7: alice: monitor");
  SetProcTitle("tls");
  CHECK(args.Area() == Expected("tls", args.Area().size()));
  SetProcTitle("");
  CHECK(args.Area() == Expected("", args.Area().size()));
  CHECK(args.Area().substr(0, 11) == std::string("keepftpd: ") + '\0');
  CHECK(args.GuardsIntact());
}

TEST_CASE("A title longer than the area is cut, keeping a final NUL, and nothing past it changes") {
  FakeArgs args({"kf", "-a"});  // 3 + 3 bytes
  InitProcTitle(args.argc(), args.argv());
  EnableProcTitle(true);
  SetProcTitle("203.0.113.200: a-very-long-user-name: STOR");
  CHECK(args.Area() == std::string("keepf") + '\0');
  CHECK(args.GuardsIntact());

  // Exactly filling the area but for the NUL.
  FakeArgs exact({"0123456789", "abcd"});  // 16 bytes: room for "keepftpd: " + 5
  InitProcTitle(exact.argc(), exact.argv());
  SetProcTitle("12345");
  CHECK(exact.Area() == std::string("keepftpd: 12345") + '\0');
  SetProcTitle("123456");
  CHECK(exact.Area() == std::string("keepftpd: 12345") + '\0');
  CHECK(exact.GuardsIntact());
}

TEST_CASE("Bytes below 0x20 in the title become '?', other bytes are kept") {
  FakeArgs args({"/usr/sbin/keepftpd", "--config", "/etc/keepftpd.conf", "--verbose"});
  InitProcTitle(args.argc(), args.argv());
  EnableProcTitle(true);
  // A NUL inside must not end the title early, nor CR/LF/ESC reach ps as themselves.
  SetProcTitle(std::string_view("a\0b\r\n\x1b[0m\t", 10));
  CHECK(args.Area() == Expected("a?b???[0m?", args.Area().size()));
  // DEL and bytes above 0x7f (UTF-8 names) go through unchanged.
  SetProcTitle("\x7f caf\xc3\xa9");
  CHECK(args.Area() == Expected("\x7f caf\xc3\xa9", args.Area().size()));
  CHECK(args.GuardsIntact());
}

TEST_CASE("Disabled, SetProcTitle leaves the arguments as they are") {
  FakeArgs args({"/usr/sbin/keepftpd", "--config", "/etc/keepftpd.conf"});
  const std::string before = args.Area();
  InitProcTitle(args.argc(), args.argv());
  EnableProcTitle(false);
  SetProcTitle("192.0.2.7: alice: RETR");
  CHECK(args.Area() == before);
  EnableProcTitle(true);
  SetProcTitle("on");
  CHECK(args.Area() == Expected("on", before.size()));
  EnableProcTitle(false);
  SetProcTitle("off again");
  CHECK(args.Area() == Expected("on", before.size()));
  CHECK(args.GuardsIntact());
}

TEST_CASE("Only arguments that follow each other in memory are used, up to the first gap") {
  FakeArgs first({"keepftpd", "-x"});       // argv[0], argv[1]: 9 + 3 bytes
  FakeArgs elsewhere({"--config", "/c"});   // argv[2], argv[3]: not after argv[1]
  char* argv[] = {first.argv()[0], first.argv()[1], elsewhere.argv()[0], elsewhere.argv()[1],
                  nullptr};
  const std::string other_before = elsewhere.Area();
  InitProcTitle(4, argv);
  EnableProcTitle(true);
  SetProcTitle("192.0.2.7: not logged in");
  CHECK(first.Area() == Expected("192.0.2.7: not logged in", 12));
  CHECK(elsewhere.Area() == other_before);
  CHECK(first.GuardsIntact());
  CHECK(elsewhere.GuardsIntact());
}

TEST_CASE("An area too small for a character and a NUL is never written") {
  FakeArgs empty({""});  // one byte: the NUL of an empty argv[0]
  InitProcTitle(empty.argc(), empty.argv());
  EnableProcTitle(true);
  SetProcTitle("IDLE");
  CHECK(empty.Area() == std::string(1, '\0'));
  CHECK(empty.GuardsIntact());

  FakeArgs two({"x"});  // two bytes: room for one character
  InitProcTitle(two.argc(), two.argv());
  SetProcTitle("IDLE");
  CHECK(two.Area() == std::string("k") + '\0');
  CHECK(two.GuardsIntact());
}

TEST_CASE("An empty or missing argument list is ignored: the area set before stays in use") {
  FakeArgs args({"keepftpd", "--config", "/etc/keepftpd.conf"});
  InitProcTitle(args.argc(), args.argv());
  EnableProcTitle(true);
  InitProcTitle(0, args.argv());
  InitProcTitle(-1, args.argv());
  InitProcTitle(3, nullptr);
  char* null_first[] = {nullptr};
  InitProcTitle(1, null_first);
  SetProcTitle("still here");
  CHECK(args.Area() == Expected("still here", args.Area().size()));
  CHECK(args.GuardsIntact());
}

std::string ReadCmdline() {
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string text = ReadAll(fd);
  close(fd);
  return text;
}

TEST_CASE("In a real process, /proc/self/cmdline shows the title over the arguments") {
  CHECK_OR_RETURN(g_real_argc >= 1 && g_real_argv != nullptr);
  const std::string before = ReadCmdline();
  CHECK_OR_RETURN(!before.empty());
  // The argv glibc handed over is the kernel's argument area.
  CHECK_OR_RETURN(std::memcmp(g_real_argv[0], before.data(), before.size()) == 0);

  int fds[2];
  CHECK_OR_RETURN(pipe2(fds, O_CLOEXEC) == 0);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
  }
  CHECK_OR_RETURN(pid >= 0);
  if (pid == 0) {
    // The child changes its own copy of the area and reports what the kernel shows.
    close(fds[0]);
    InitProcTitle(g_real_argc, g_real_argv);
    EnableProcTitle(true);
    SetProcTitle("192.0.2.7: alice: IDLE");
    const std::string shown = ReadCmdline();
    const bool sent = write(fds[1], shown.data(), shown.size()) ==
                      static_cast<ssize_t>(shown.size());
    _exit(sent ? 0 : 1);
  }
  close(fds[1]);
  const std::string shown = ReadAll(fds[0]);
  close(fds[0]);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(shown == Expected("192.0.2.7: alice: IDLE", before.size()));
  // This process's own arguments are untouched.
  CHECK(ReadCmdline() == before);
}

}  // namespace
}  // namespace keepftpd
