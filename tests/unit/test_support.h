// What the unit-test programs share: CHECK_OR_RETURN (doctest's REQUIRE needs exceptions, which
// the project does not have), reading a descriptor to its end, and a temporary file.
#ifndef KEEPFTPD_TESTS_UNIT_TEST_SUPPORT_H_
#define KEEPFTPD_TESTS_UNIT_TEST_SUPPORT_H_

#include <doctest/doctest.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <string_view>

#include "unique_fd.h"

// Checks, and leaves the test (or a helper, returning the extra argument) when the check fails.
#define CHECK_OR_RETURN(cond, ...)  \
  do {                              \
    const bool ok_ = (cond);        \
    CHECK_MESSAGE(ok_, #cond);      \
    if (!ok_) return __VA_ARGS__;   \
  } while (0)

namespace keepftpd {
namespace test {

// Everything up to the end of the stream (or an error) on a blocking descriptor.
inline std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// A file under /tmp, removed at the end of the test.
class TempFile {
 public:
  TempFile() {
    char path[] = "/tmp/keepftpd-unit-test-XXXXXX";
    fd_.Reset(mkstemp(path));
    CHECK(fd_.valid());
    path_ = path;
  }
  explicit TempFile(std::string_view content) : TempFile() {
    std::string_view left = content;
    while (!left.empty()) {
      ssize_t n = write(fd_.get(), left.data(), left.size());
      if (n <= 0) break;
      left.remove_prefix(static_cast<std::size_t>(n));
    }
    CHECK(left.empty());
  }
  ~TempFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // The whole file, whatever the descriptor's offset.
  std::string Contents() const {
    std::string out;
    char buf[65536];
    off_t pos = 0;
    while (true) {
      ssize_t n = pread(fd_.get(), buf, sizeof(buf), pos);
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
      pos += n;
    }
  }

 private:
  UniqueFd fd_;
  std::string path_;
};

}  // namespace test
}  // namespace keepftpd

#endif  // KEEPFTPD_TESTS_UNIT_TEST_SUPPORT_H_
