// The physical ceiling for a download over loopback: one process sendfile()s FILE over a TCP
// connection on 127.0.0.1 to another, which reads it with the same 256 KiB recv loop as the
// benchmark client. Prints bytes, seconds and MB/s (10^6 bytes) measured at the receiver from
// connect to EOF.
//
// With "ascii", the ceiling for an ASCII-mode download instead: the sender reads FILE 256 KiB at
// a time, turns each LF not preceded by CR into CRLF (memchr, then one copy per run) into a
// second buffer and sends that, which is every step keepftpd's session jail takes for it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "loopback_pair.h"

namespace {

// Sends the file converted to ASCII mode's CRLF line ends.
void SendAscii(int c, int file) {
  constexpr size_t kChunk = 256 * 1024;
  std::vector<char> in(kChunk), out(2 * kChunk);
  bool last_was_cr = false;
  for (;;) {
    ssize_t n = read(file, in.data(), in.size());
    if (n < 0) Die("read");
    if (n == 0) return;
    const char* s = in.data();
    const char* end = s + n;
    char* o = out.data();
    while (s != end) {
      const auto* lf = static_cast<const char*>(std::memchr(s, '\n', static_cast<size_t>(end - s)));
      const char* run_end = lf == nullptr ? end : lf;
      std::memcpy(o, s, static_cast<size_t>(run_end - s));
      o += run_end - s;
      if (lf == nullptr) break;
      if (!(lf > in.data() ? lf[-1] == '\r' : last_was_cr)) *o++ = '\r';
      *o++ = '\n';
      s = lf + 1;
    }
    last_was_cr = in[static_cast<size_t>(n) - 1] == '\r';
    for (const char* p = out.data(); p < o;) {
      ssize_t w = send(c, p, static_cast<size_t>(o - p), 0);
      if (w <= 0) Die("send");
      p += w;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool ascii = argc == 3 && std::strcmp(argv[2], "ascii") == 0;
  if (argc != 2 && !ascii) {
    std::fprintf(stderr, "usage: sendfile_pair FILE [ascii]\n");
    return 2;
  }
  int file = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (file < 0) Die("open");
  struct stat st;
  if (fstat(file, &st) != 0) Die("fstat");
  sockaddr_in sa;
  int c = -1;
  pid_t pid = ForkLoopbackPair(&sa, &c);
  if (pid == 0 && ascii) {
    SendAscii(c, file);
    close(c);
    _exit(0);
  }
  if (pid == 0) {
    off_t pos = 0;
    while (pos < st.st_size) {
      ssize_t n = sendfile(c, file, &pos, static_cast<size_t>(st.st_size - pos));
      if (n <= 0) Die("sendfile");
    }
    close(c);
    _exit(0);
  }
  std::vector<char> buf(256 * 1024);
  auto t0 = std::chrono::steady_clock::now();
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) Die("connect");
  size_t total = 0;
  for (;;) {
    ssize_t n = recv(s, buf.data(), buf.size(), 0);
    if (n < 0) Die("recv");
    if (n == 0) break;
    total += static_cast<size_t>(n);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int status = 0;
  waitpid(pid, &status, 0);
  if ((!ascii && total != static_cast<size_t>(st.st_size)) || status != 0) {
    std::fprintf(stderr, "sendfile_pair: got %zu of %lld bytes\n", total,
                 static_cast<long long>(st.st_size));
    return 1;
  }
  std::printf("bytes=%zu seconds=%.6f mbps=%.3f\n", total, secs, static_cast<double>(total) / secs / 1e6);
  return 0;
}
