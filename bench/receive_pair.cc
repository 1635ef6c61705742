// The ceilings for an upload over loopback: one process sends FILE's bytes (read into memory
// first) over a TCP connection on 127.0.0.1 to another, which receives them with the same
// 256 KiB recv loop as keepftpd's and writes them into DIR, then answers one byte (the "226").
// Timed at the sender from connect to that byte. Modes:
//   cached   write() only, as vsftpd does: the answer comes with the data in the page cache.
//   durable  what keepftpd does before its 226: a hidden file, writeback started every 8 MiB
//            (sync_file_range), fsync, rename into place, fsync of the directory.
// Prints bytes, seconds and MB/s (10^6 bytes), and removes what it wrote.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "loopback_pair.h"

static void Receive(int c, const std::string& dir, bool durable) {
  const std::string hidden = dir + "/.receive-pair.tmp", final = dir + "/receive-pair.bin";
  int out = open(hidden.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) Die("open");
  std::vector<char> buf(256 * 1024);
  off_t pending = 0, pos = 0;
  for (;;) {
    ssize_t n = recv(c, buf.data(), buf.size(), 0);
    if (n < 0) Die("recv");
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buf.data() + done, static_cast<size_t>(n - done));
      if (w <= 0) Die("write");
      done += w;
    }
    pos += n;
    pending += n;
    if (durable && pending >= (8 << 20)) {
      sync_file_range(out, pos - pending, pending, SYNC_FILE_RANGE_WRITE);
      pending = 0;
    }
  }
  if (durable && fsync(out) != 0) Die("fsync");
  if (close(out) != 0) Die("close");
  if (rename(hidden.c_str(), final.c_str()) != 0) Die("rename");
  if (durable) {
    int d = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0 || fsync(d) != 0) Die("fsync directory");
    close(d);
  }
  if (write(c, "!", 1) != 1) Die("answer");
}

int main(int argc, char** argv) {
  if (argc != 4 || (std::strcmp(argv[3], "cached") != 0 && std::strcmp(argv[3], "durable") != 0)) {
    std::fprintf(stderr, "usage: receive_pair FILE DIR cached|durable\n");
    return 2;
  }
  const std::string dir = argv[2];
  const bool durable = std::strcmp(argv[3], "durable") == 0;
  int file = open(argv[1], O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (file < 0 || fstat(file, &st) != 0) Die("open FILE");
  std::vector<char> data(static_cast<size_t>(st.st_size));
  for (size_t got = 0; got < data.size();) {
    ssize_t n = read(file, data.data() + got, data.size() - got);
    if (n <= 0) Die("read FILE");
    got += static_cast<size_t>(n);
  }
  sockaddr_in sa;
  int c = -1;
  pid_t pid = ForkLoopbackPair(&sa, &c);
  if (pid == 0) {
    Receive(c, dir, durable);
    _exit(0);
  }
  auto t0 = std::chrono::steady_clock::now();
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) Die("connect");
  for (size_t sent = 0; sent < data.size();) {
    ssize_t n = send(s, data.data() + sent, data.size() - sent, 0);
    if (n <= 0) Die("send");
    sent += static_cast<size_t>(n);
  }
  shutdown(s, SHUT_WR);
  char answer;
  if (read(s, &answer, 1) != 1) Die("no answer");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int status = 0;
  waitpid(pid, &status, 0);
  if (status != 0) return 1;
  unlink((dir + "/receive-pair.bin").c_str());
  sync();
  std::printf("bytes=%zu seconds=%.6f mbps=%.3f\n", data.size(), secs,
              static_cast<double>(data.size()) / secs / 1e6);
  return 0;
}
