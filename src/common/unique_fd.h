// UniqueFd: a move-only owner of one file descriptor, and UniqueDir of one directory stream.
// Every descriptor and DIR* of keepftpd is owned by one of them: nothing else closes. Shared by
// every process.
#ifndef KEEPFTPD_SRC_COMMON_UNIQUE_FD_H_
#define KEEPFTPD_SRC_COMMON_UNIQUE_FD_H_

#include <dirent.h>
#include <unistd.h>

#include <memory>
#include <utility>

namespace keepftpd {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};
// opendir/fdopendir's stream, closed when it goes out of scope.
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_UNIQUE_FD_H_
