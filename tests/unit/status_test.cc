// Tests for src/common/status.cc: a Status is OK or failed with a message and errno, FromErrno
// adds the errno text to its context, and a Result<T> holds a value that can be moved out or a
// failed Status.
#include "status.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "test_support.h"
#include "unique_fd.h"

namespace keepftpd {
namespace {

TEST_CASE("A default Status and Status::Ok() are OK, with no message and no errno") {
  const Status s;
  CHECK(s.ok());
  CHECK(s.message().empty());
  CHECK(s.errno_value() == 0);
  const Status ok = Status::Ok();
  CHECK(ok.ok());
  CHECK(ok.message().empty());
  CHECK(ok.errno_value() == 0);
}

TEST_CASE("Status::Error fails with its message as given and no errno") {
  const Status s = Status::Error("user name too long");
  CHECK_FALSE(s.ok());
  CHECK(s.message() == "user name too long");
  CHECK(s.errno_value() == 0);
  // Failing does not depend on the message: an empty one still fails.
  const Status empty = Status::Error("");
  CHECK_FALSE(empty.ok());
  CHECK(empty.message().empty());
  // The message is kept byte for byte (no sanitising at this level).
  const std::string raw("a\0b\r\n", 5);
  CHECK(Status::Error(raw).message() == raw);
}

TEST_CASE("FromErrno fails with \"context: strerror(err)\" and remembers err") {
  const Status s = Status::FromErrno(ENOENT, "open /etc/keepftpd.conf");
  CHECK_FALSE(s.ok());
  CHECK(s.errno_value() == ENOENT);
  CHECK(s.message() == std::string("open /etc/keepftpd.conf: ") + std::strerror(ENOENT));

  const Status denied = Status::FromErrno(EACCES, "chroot");
  CHECK(denied.errno_value() == EACCES);
  CHECK(denied.message() == std::string("chroot: ") + std::strerror(EACCES));
  CHECK(denied.message() != s.message());

  // An empty context still gets the separator; a context with a NUL keeps it.
  CHECK(Status::FromErrno(EINTR, "").message() == std::string(": ") + std::strerror(EINTR));
  const std::string_view nul_context("a\0b", 3);
  CHECK(Status::FromErrno(EIO, nul_context).message() ==
        std::string("a\0b: ", 5) + std::strerror(EIO));
}

TEST_CASE("FromErrno with an errno the C library does not know still fails and keeps it") {
  const Status s = Status::FromErrno(99999, "ioctl");
  CHECK_FALSE(s.ok());
  CHECK(s.errno_value() == 99999);
  CHECK(s.message() == std::string("ioctl: ") + std::strerror(99999));
  CHECK(s.message().size() > std::string("ioctl: ").size());
}

TEST_CASE("FromErrno(0) is a failure too: a caller's errno slip never turns into success") {
  const Status s = Status::FromErrno(0, "read");
  CHECK_FALSE(s.ok());
  CHECK(s.errno_value() == 0);
  CHECK(s.message() == std::string("read: ") + std::strerror(0));
}

TEST_CASE("FromErrno uses the errno passed, not the current errno") {
  errno = EPERM;
  const Status s = Status::FromErrno(EBADF, "close");
  CHECK(s.errno_value() == EBADF);
  CHECK(s.message() == std::string("close: ") + std::strerror(EBADF));
}

TEST_CASE("A Status copies and moves with its message and errno") {
  const Status original = Status::FromErrno(ENOSPC, "write upload");
  Status copy = original;
  CHECK_FALSE(copy.ok());
  CHECK(copy.message() == original.message());
  CHECK(copy.errno_value() == ENOSPC);
  const Status moved = std::move(copy);
  CHECK_FALSE(moved.ok());
  CHECK(moved.message() == original.message());
  CHECK(moved.errno_value() == ENOSPC);
  Status assigned;
  CHECK(assigned.ok());
  assigned = original;
  CHECK_FALSE(assigned.ok());
  assigned = Status::Ok();
  CHECK(assigned.ok());
  CHECK(assigned.message().empty());
  CHECK(assigned.errno_value() == 0);
}

Result<int> Half(int n) {
  if (n % 2 != 0) return Status::Error(std::to_string(n) + " is odd");
  return n / 2;
}

TEST_CASE("A Result made from a value is OK and gives the value, and an OK status") {
  Result<int> r = Half(42);
  CHECK(r.ok());
  CHECK(r.value() == 21);
  CHECK(*r == 21);
  CHECK(r.status().ok());
  CHECK(r.status().message().empty());
  r.value() = 7;  // the value is the Result's own, and writable
  CHECK(*r == 7);
  *r = 8;
  CHECK(r.value() == 8);

  const Result<std::string> c(std::string("text"));
  CHECK(c.ok());
  CHECK(c.value() == "text");
  CHECK(c->size() == 4);
  CHECK(c.status().ok());
}

TEST_CASE("A Result made from a failed Status is not OK and carries its message and errno") {
  const Result<int> r = Half(3);
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.status().ok());
  CHECK(r.status().message() == "3 is odd");
  CHECK(r.status().errno_value() == 0);

  const Result<std::string> e = Status::FromErrno(EMFILE, "socket");
  CHECK_FALSE(e.ok());
  CHECK(e.status().errno_value() == EMFILE);
  CHECK(e.status().message() == std::string("socket: ") + std::strerror(EMFILE));
}

TEST_CASE("A Result whose value type is a string is told apart from a Status by its type") {
  // Result<std::string>: a std::string is the value, even one that looks like an error.
  const Result<std::string> value(std::string("error: nothing"));
  CHECK(value.ok());
  CHECK(value.value() == "error: nothing");  // no const operator*: value()
  const Result<std::string> failed(Status::Error("error: nothing"));
  CHECK_FALSE(failed.ok());
}

TEST_CASE("A move-only value is moved out of a Result, leaving its owner empty") {
  int fds[2];
  CHECK_OR_RETURN(pipe2(fds, O_CLOEXEC) == 0);
  UniqueFd write_end(fds[1]);
  Result<UniqueFd> r = UniqueFd(fds[0]);
  CHECK(r.ok());
  CHECK(r->get() == fds[0]);
  UniqueFd taken = std::move(r.value());
  CHECK(taken.get() == fds[0]);
  CHECK_FALSE(r->valid());  // the Result no longer owns the descriptor
  CHECK(r.ok());            // but still holds a (moved-from) value
  CHECK(fcntl(fds[0], F_GETFD) >= 0);

  Result<std::unique_ptr<int>> p = std::make_unique<int>(5);
  std::unique_ptr<int> owned = std::move(*p);
  CHECK(owned != nullptr);
  CHECK(*owned == 5);
  CHECK(p.value() == nullptr);
}

TEST_CASE("A whole Result moves, and the descriptor it owns is closed when its last owner ends") {
  int fds[2];
  CHECK_OR_RETURN(pipe2(fds, O_CLOEXEC) == 0);
  UniqueFd write_end(fds[1]);
  {
    Result<UniqueFd> a = UniqueFd(fds[0]);
    Result<UniqueFd> b = std::move(a);
    CHECK(b.ok());
    CHECK(b->get() == fds[0]);
    CHECK_FALSE(a->valid());
  }
  // Leaving the scope closed the read end: the descriptor number is free.
  CHECK(fcntl(fds[0], F_GETFD) == -1);
  CHECK(errno == EBADF);
}

}  // namespace
}  // namespace keepftpd
