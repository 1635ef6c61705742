// Status and Result<T>: the values expected failures travel in. Shared by every process.
// A failed Status carries a message with context and, when it came from a syscall, the errno.
#ifndef KEEPFTPD_SRC_COMMON_STATUS_H_
#define KEEPFTPD_SRC_COMMON_STATUS_H_

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace keepftpd {

class Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), 0); }
  // "context: strerror(err)", remembering err.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }
  int errno_value() const { return errno_; }

 private:
  Status(std::string message, int err) : failed_(true), message_(std::move(message)), errno_(err) {}
  bool failed_ = false;
  std::string message_;
  int errno_ = 0;
};

// Either a value or a failed Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}      // NOLINT: must be a failed Status
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_STATUS_H_
