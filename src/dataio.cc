// Data transfers with ABOR detection and stall timeouts. Session jail only.
#include "dataio.h"

#include <errno.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "ftp_command.h"

namespace keepftpd {

namespace {

constexpr std::size_t kSendfileChunk = 4 << 20;
constexpr std::size_t kReadChunk = 64 << 10;

// Waits until the data socket can take more bytes, watching the control connection for ABOR.
// Returns kOk when writable.
class Waiter {
 public:
  Waiter(int data_fd, ControlConnection& ctrl, unsigned timeout_seconds)
      : data_fd_(data_fd), ctrl_(ctrl), timeout_ms_(timeout_seconds == 0 ? -1 : static_cast<int>(timeout_seconds) * 1000) {}

  TransferResult WaitWritable() {
    while (true) {
      pollfd p[2] = {{data_fd_, POLLOUT, 0}, {ctrl_.fd(), POLLIN, 0}};
      int n = poll(p, watch_ctrl_ ? 2 : 1, timeout_ms_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return TransferResult::kDataError;
      if (n == 0) return TransferResult::kTimeout;
      if (watch_ctrl_ && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        TransferResult r = CheckControl();
        if (r != TransferResult::kOk) return r;
      }
      if ((p[0].revents & (POLLERR | POLLHUP)) != 0) return TransferResult::kDataError;
      if ((p[0].revents & POLLOUT) != 0) return TransferResult::kOk;
    }
  }

  // After progress on the data connection, look at the control connection again.
  void Progress() { watch_ctrl_ = true; }

 private:
  TransferResult CheckControl() {
    std::string line;
    bool closed = false;
    if (ctrl_.PeekLine(&line, &closed)) {
      if (ParseCommandLine(line).verb == "ABOR") {
        ctrl_.ConsumePeeked(0);
        return TransferResult::kAborted;
      }
    } else if (closed) {
      return TransferResult::kControlClosed;
    }
    // Another command, or half a line: it waits until the transfer ends. Stop polling the
    // control connection until the data connection makes progress, so we never spin.
    watch_ctrl_ = false;
    return TransferResult::kOk;
  }

  int data_fd_;
  ControlConnection& ctrl_;
  int timeout_ms_;
  bool watch_ctrl_ = true;
};

TransferResult WriteAll(int data_fd, Waiter& waiter, std::string_view data, std::uint64_t* sent) {
  while (!data.empty()) {
    ssize_t n = send(data_fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      *sent += static_cast<std::uint64_t>(n);
      waiter.Progress();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      TransferResult r = waiter.WaitWritable();
      if (r != TransferResult::kOk) return r;
      continue;
    }
    return TransferResult::kDataError;
  }
  return TransferResult::kOk;
}

}  // namespace

TransferResult SendBuffer(int data_fd, ControlConnection& ctrl, std::string_view data,
                          const TransferOptions& options, std::uint64_t* sent) {
  *sent = 0;
  Waiter waiter(data_fd, ctrl, options.timeout_seconds);
  // Check for an ABOR that arrived before the transfer started.
  if (options.ascii) {
    AsciiEncoder encoder;
    std::string out;
    encoder.Convert(data, &out);
    return WriteAll(data_fd, waiter, out, sent);
  }
  return WriteAll(data_fd, waiter, data, sent);
}

TransferResult SendFile(int data_fd, ControlConnection& ctrl, int file_fd, std::uint64_t offset,
                        const TransferOptions& options, std::uint64_t* sent) {
  *sent = 0;
  Waiter waiter(data_fd, ctrl, options.timeout_seconds);
  if (options.ascii) {
    AsciiEncoder encoder;
    std::string in(kReadChunk, '\0');
    std::string out;
    auto pos = static_cast<off_t>(offset);
    while (true) {
      ssize_t n = pread(file_fd, in.data(), in.size(), pos);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return TransferResult::kFileError;
      if (n == 0) return TransferResult::kOk;
      pos += n;
      out.clear();
      encoder.Convert(std::string_view(in.data(), static_cast<std::size_t>(n)), &out);
      std::uint64_t chunk_sent = 0;
      TransferResult r = WriteAll(data_fd, waiter, out, &chunk_sent);
      *sent += static_cast<std::uint64_t>(n);
      if (r != TransferResult::kOk) return r;
    }
  }
  auto pos = static_cast<off_t>(offset);
  while (true) {
    ssize_t n = sendfile(data_fd, file_fd, &pos, kSendfileChunk);
    if (n > 0) {
      *sent += static_cast<std::uint64_t>(n);
      waiter.Progress();
      continue;
    }
    if (n == 0) return TransferResult::kOk;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      TransferResult r = waiter.WaitWritable();
      if (r != TransferResult::kOk) return r;
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET) return TransferResult::kDataError;
    return TransferResult::kFileError;
  }
}

}  // namespace keepftpd
