// Data transfers with ABOR detection and stall timeouts. Session jail only.
#include "dataio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>

#include "ftp_command.h"

namespace keepftpd {

namespace {

constexpr std::size_t kSendfileChunk = 4 << 20;
// Reads of a file that is converted (ASCII) or copied (use_sendfile=NO): the chunk and its
// conversion stay in the CPU cache; 64 KiB and 1 MiB were slower for ASCII downloads.
constexpr std::size_t kReadChunk = 256 << 10;
constexpr std::size_t kReceiveChunk = 256 << 10;
// An upload's written data is handed to the disk in steps of this size while the transfer goes
// on (sync_file_range), so that the fsync before the 226 finds little left to write.
constexpr off_t kWritebackStep = 8 << 20;

// Starts writing back what an upload wrote since the last step, without waiting for it. The
// range ends at the file's position after the writes (with O_APPEND, APPE, that is the end).
class Writeback {
 public:
  explicit Writeback(int fd) : fd_(fd) {}

  void Wrote(std::size_t n) {
    pending_ += static_cast<off_t>(n);
    if (pending_ < kWritebackStep) return;
    // Errors are left to the fsync: this is only a head start.
    off_t end = lseek(fd_, 0, SEEK_CUR);
    if (end >= pending_) sync_file_range(fd_, end - pending_, pending_, SYNC_FILE_RANGE_WRITE);
    pending_ = 0;
  }

 private:
  int fd_;
  off_t pending_ = 0;  // written since the last step
};

// Waits until the data socket can take more bytes (or, for uploads, has more to read),
// watching the control connection for ABOR. Returns kOk when ready.
class Waiter {
 public:
  Waiter(int data_fd, ControlConnection& ctrl, unsigned timeout_seconds, short events = POLLOUT)
      : data_fd_(data_fd), ctrl_(ctrl),
        timeout_ms_(timeout_seconds == 0 ? -1 : static_cast<int>(timeout_seconds) * 1000),
        events_(events) {}

  TransferResult WaitReady() {
    while (true) {
      pollfd p[2] = {{data_fd_, events_, 0}, {ctrl_.fd(), POLLIN, 0}};
      int n = poll(p, watch_ctrl_ ? 2 : 1, timeout_ms_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return TransferResult::kDataError;
      if (n == 0) return TransferResult::kTimeout;
      if (watch_ctrl_ && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        TransferResult r = CheckControl();
        if (r != TransferResult::kOk) return r;
      }
      // Reading: the end of the stream (POLLHUP) is for recv() to see.
      if (events_ == POLLIN && (p[0].revents & (POLLIN | POLLHUP)) != 0) {
        return TransferResult::kOk;
      }
      if ((p[0].revents & (POLLERR | POLLHUP)) != 0) return TransferResult::kDataError;
      if ((p[0].revents & events_) != 0) return TransferResult::kOk;
    }
  }

  // After progress on the data connection, look at the control connection again.
  void Progress() { watch_ctrl_ = true; }

  // Lets microseconds pass while watching the control connection for ABOR.
  TransferResult Pause(long long usec) {
    const long long until = NowUs() + usec;
    for (long long left = usec; left > 0; left = until - NowUs()) {
      pollfd p = {ctrl_.fd(), POLLIN, 0};
      int ms = static_cast<int>(std::min<long long>((left + 999) / 1000, 1000));
      int n = poll(&p, watch_ctrl_ ? 1 : 0, ms);
      if (n < 0 && errno != EINTR) return TransferResult::kDataError;
      if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        TransferResult r = CheckControl();
        if (r != TransferResult::kOk) return r;
      }
    }
    return TransferResult::kOk;
  }

  static long long NowUs() {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000LL + t.tv_nsec / 1000;
  }

 private:
  TransferResult CheckControl() {
    while (true) {
      std::string line;
      bool closed = false;
      const std::size_t taken = ctrl_.pending_size();
      if (ctrl_.PeekLine(&line, &closed)) {
        if (ParseCommandLine(line).verb == "ABOR") {
          ctrl_.ConsumePeeked(0);
          return TransferResult::kAborted;
        }
        // Another whole command: it waits until the transfer ends. Stop polling the control
        // connection until the data connection makes progress, so we never spin on it.
        watch_ctrl_ = false;
        return TransferResult::kOk;
      }
      if (closed) return TransferResult::kControlClosed;
      // Half a line: PeekLine took its bytes (a telnet Synch, or an ABOR, arrives in pieces),
      // so the control connection stays quiet until more come, and is still watched for the
      // rest. Bytes that came while PeekLine looked are looked at again; only bytes it would
      // not take (an over-long line) stop the watching.
      char probe;
      if (recv(ctrl_.fd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) return TransferResult::kOk;
      if (ctrl_.pending_size() == taken) {
        watch_ctrl_ = false;
        return TransferResult::kOk;
      }
    }
  }

  int data_fd_;
  ControlConnection& ctrl_;
  int timeout_ms_;
  short events_;
  bool watch_ctrl_ = true;
};

// max_rate pacing (see TransferOptions).
class Pacer {
 public:
  explicit Pacer(std::uint64_t rate) : rate_(rate), start_us_(Waiter::NowUs()) {}
  // The most to move in one step.
  std::size_t Chunk(std::size_t wanted) const {
    if (rate_ == 0) return wanted;
    return static_cast<std::size_t>(std::clamp<std::uint64_t>(rate_ / 20, 1024, wanted));
  }
  // After `total` bytes of the transfer: waits until they are due.
  TransferResult Pace(std::uint64_t total, Waiter& waiter) const {
    if (rate_ == 0) return TransferResult::kOk;
    const long double due = static_cast<long double>(total) * 1e6L / static_cast<long double>(rate_);
    const long long wait = static_cast<long long>(due) - (Waiter::NowUs() - start_us_);
    return wait > 0 ? waiter.Pause(wait) : TransferResult::kOk;
  }

 private:
  std::uint64_t rate_;
  long long start_us_;
};

// Writes all of data to a file; false with *err set when the file system refuses.
bool WriteFileFully(int fd, std::string_view data, int* err) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *err = n < 0 ? errno : ENOSPC;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

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
      TransferResult r = waiter.WaitReady();
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
  const Pacer pacer(options.max_rate);
  if (options.ascii || !options.use_sendfile) {
    AsciiEncoder encoder;
    const std::size_t chunk_size = pacer.Chunk(kReadChunk);
    // ASCII: what is read, then (converted, up to twice as long) what is sent.
    std::unique_ptr<char[]> buffer =
        std::make_unique_for_overwrite<char[]>((options.ascii ? 3 : 1) * chunk_size);
    char* const in = buffer.get();
    char* const converted = in + chunk_size;
    auto pos = static_cast<off_t>(offset);
    while (true) {
      ssize_t n = pread(file_fd, in, chunk_size, pos);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return TransferResult::kFileError;
      if (n == 0) return TransferResult::kOk;
      pos += n;
      std::string_view out(in, static_cast<std::size_t>(n));
      if (options.ascii) {
        char* end = encoder.Convert(out, converted);
        out = std::string_view(converted, static_cast<std::size_t>(end - converted));
      }
      TransferResult r = WriteAll(data_fd, waiter, out, sent);  // counts what went out
      if (r == TransferResult::kOk) r = pacer.Pace(*sent, waiter);
      if (r != TransferResult::kOk) return r;
    }
  }
  auto pos = static_cast<off_t>(offset);
  while (true) {
    ssize_t n = sendfile(data_fd, file_fd, &pos, pacer.Chunk(kSendfileChunk));
    if (n > 0) {
      *sent += static_cast<std::uint64_t>(n);
      waiter.Progress();
      TransferResult r = pacer.Pace(*sent, waiter);
      if (r != TransferResult::kOk) return r;
      continue;
    }
    if (n == 0) return TransferResult::kOk;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      TransferResult r = waiter.WaitReady();
      if (r != TransferResult::kOk) return r;
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET) return TransferResult::kDataError;
    return TransferResult::kFileError;
  }
}

TransferResult ReceiveFile(int data_fd, ControlConnection& ctrl, int file_fd,
                           const TransferOptions& options, std::uint64_t* received,
                           int* file_errno) {
  *received = 0;
  *file_errno = 0;
  Waiter waiter(data_fd, ctrl, options.timeout_seconds, POLLIN);
  const Pacer pacer(options.max_rate);
  std::string buf(pacer.Chunk(kReceiveChunk), '\0');
  std::string converted;
  AsciiDecoder decoder;
  Writeback writeback(file_fd);
  while (true) {
    ssize_t n = recv(data_fd, buf.data(), buf.size(), 0);
    if (n == 0) {
      // The end of the data. If the control connection is gone too, the client died rather
      // than finished: the upload is not complete.
      std::string line;
      bool closed = false;
      ctrl.PeekLine(&line, &closed);
      if (closed) return TransferResult::kControlClosed;
      converted.clear();
      if (options.ascii) decoder.Finish(&converted);
      if (!WriteFileFully(file_fd, converted, file_errno)) return TransferResult::kFileError;
      return TransferResult::kOk;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        TransferResult r = waiter.WaitReady();
        if (r != TransferResult::kOk) return r;
        continue;
      }
      return TransferResult::kDataError;
    }
    *received += static_cast<std::uint64_t>(n);
    waiter.Progress();
    std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
    if (options.ascii) {
      converted.clear();
      decoder.Convert(chunk, &converted);
      chunk = converted;
    }
    if (!WriteFileFully(file_fd, chunk, file_errno)) return TransferResult::kFileError;
    writeback.Wrote(chunk.size());
    TransferResult r = pacer.Pace(*received, waiter);
    if (r != TransferResult::kOk) return r;
  }
}

}  // namespace keepftpd
