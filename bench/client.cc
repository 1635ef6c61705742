// Load client for bench/run.sh: the minimal FTP it needs (control replies, USER/PASS, PASV,
// RETR, LIST), parallel sessions on threads, and timing. Every mode prints one line of
// key=value pairs on stdout; any protocol or socket error is fatal (exit 1, message on stderr),
// because the benchmark must fail when a server fails to serve.
//
//   client sessions HOST PORT N PARALLEL ftp|banner
//       N sessions in total, PARALLEL at a time. ftp: connect, 220, USER anonymous, PASS x@y,
//       PWD, QUIT, wait for close. banner: connect, read the 220 line, wait for close.
//   client retr HOST PORT PATH            one binary passive RETR of PATH
//   client retrmany HOST PORT DIR COUNT NFILES
//                                         COUNT RETRs in one session of DIR/fNNNN, cycling
//                                         over NFILES files
//   client list HOST PORT DIR             one passive LIST of DIR
//   client hold HOST PORT N               log N sessions in, print "ready", wait until stdin
//                                         closes, then QUIT them all
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "client: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

std::string g_host;
int g_port = 0;
constexpr size_t kReadBuf = 256 * 1024;

int Connect(const std::string& host, int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) Die("bad address " + host);
  for (int attempt = 0;; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) Die(std::string("socket: ") + strerror(errno));
    timeval tv{60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return fd;
    int err = errno;
    close(fd);
    // A momentarily full accept backlog under parallel load: retry briefly rather than
    // fail the whole run; anything else is fatal.
    if ((err == EAGAIN || err == ECONNREFUSED || err == ETIMEDOUT) && attempt < 50) {
      usleep(10000);
      continue;
    }
    Die("connect " + host + ":" + std::to_string(port) + ": " + strerror(err));
  }
}

class Control {
 public:
  explicit Control(int fd) : fd_(fd) {}
  ~Control() {
    if (fd_ >= 0) close(fd_);
  }
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  std::string Line() {
    for (;;) {
      size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        std::string line = buf_.substr(pos_, nl - pos_);
        pos_ = nl + 1;
        if (pos_ == buf_.size()) {
          buf_.clear();
          pos_ = 0;
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      char tmp[4096];
      ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Die(std::string("control recv: ") + strerror(errno));
      if (n == 0) Die("control connection closed; last data: " + buf_.substr(pos_));
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

  // One whole reply; returns the code and leaves the last line in last_.
  int Reply() {
    std::string first = Line();
    if (first.size() < 3) Die("short reply: " + first);
    last_ = first;
    if (first.size() >= 4 && first[3] == '-') {
      std::string end = first.substr(0, 3) + " ";
      for (;;) {
        std::string l = Line();
        if (l.compare(0, 4, end) == 0) {
          last_ = l;
          break;
        }
      }
    }
    return std::atoi(first.substr(0, 3).c_str());
  }

  void Send(const std::string& cmd) {
    std::string s = cmd + "\r\n";
    const char* p = s.data();
    size_t left = s.size();
    while (left > 0) {
      ssize_t n = send(fd_, p, left, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Die(std::string("control send: ") + strerror(errno));
      p += n;
      left -= static_cast<size_t>(n);
    }
  }

  int Cmd(const std::string& cmd) {
    Send(cmd);
    return Reply();
  }

  void Expect(const std::string& cmd, int want) {
    int code = Cmd(cmd);
    if (code != want) Die(cmd + ": expected " + std::to_string(want) + ", got " + last_);
  }

  void ExpectReply(int want, const char* what) {
    int code = Reply();
    if (code != want) Die(std::string(what) + ": expected " + std::to_string(want) + ", got " + last_);
  }

  // Waits until the server closes the connection (after QUIT/221 or after the banner).
  void WaitClose() {
    char tmp[512];
    for (;;) {
      ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n == 0) return;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        if (errno == ECONNRESET) return;
        Die(std::string("waiting for close: ") + strerror(errno));
      }
    }
  }

  void Login() {
    ExpectReply(220, "banner");
    int code = Cmd("USER anonymous");
    if (code == 331) code = Cmd("PASS x@y");
    if (code != 230) Die("login failed: " + last_);
  }

  // PASV; returns a connected data socket.
  int Pasv() {
    Expect("PASV", 227);
    size_t open = last_.find('(');
    unsigned h[6];
    if (open == std::string::npos ||
        std::sscanf(last_.c_str() + open, "(%u,%u,%u,%u,%u,%u)", &h[0], &h[1], &h[2], &h[3],
                    &h[4], &h[5]) != 6)
      Die("bad PASV reply: " + last_);
    char addr[32];
    std::snprintf(addr, sizeof addr, "%u.%u.%u.%u", h[0], h[1], h[2], h[3]);
    return Connect(addr, static_cast<int>(h[4] * 256 + h[5]));
  }

  const std::string& last() const { return last_; }

 private:
  int fd_;
  std::string buf_;
  size_t pos_ = 0;
  std::string last_;
};

// Reads the data connection to EOF; returns the byte count (and the newline count).
size_t Drain(int fd, std::vector<char>& buf, size_t* newlines = nullptr) {
  size_t total = 0;
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Die(std::string("data recv: ") + strerror(errno));
    if (n == 0) break;
    total += static_cast<size_t>(n);
    if (newlines) *newlines += static_cast<size_t>(std::count(buf.data(), buf.data() + n, '\n'));
  }
  close(fd);
  return total;
}

// One transfer: PASV, COMMAND, 150/125, data to EOF, 226.
size_t Transfer(Control& c, const std::string& command, std::vector<char>& buf,
                size_t* newlines = nullptr) {
  int data = c.Pasv();
  c.Send(command);
  int code = c.Reply();
  if (code != 150 && code != 125) Die(command + ": " + c.last());
  size_t n = Drain(data, buf, newlines);
  code = c.Reply();
  if (code != 226) Die(command + " end: " + c.last());
  return n;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int Sessions(int n, int parallel, bool ftp) {
  std::atomic<int> next{0};
  std::vector<std::vector<double>> lat(static_cast<size_t>(parallel));
  auto worker = [&](size_t me) {
    for (;;) {
      if (next.fetch_add(1) >= n) return;
      auto t0 = Clock::now();
      Control c(Connect(g_host, g_port));
      if (ftp) {
        c.Login();
        c.Expect("PWD", 257);
        c.Expect("QUIT", 221);
      } else {
        c.ExpectReply(220, "banner");
      }
      c.WaitClose();
      lat[me].push_back(Seconds(t0, Clock::now()));
    }
  };
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < parallel; ++i) threads.emplace_back(worker, static_cast<size_t>(i));
  for (auto& t : threads) t.join();
  double secs = Seconds(t0, Clock::now());
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::printf("sessions=%zu seconds=%.6f rate=%.3f p50_ms=%.3f p99_ms=%.3f\n", all.size(), secs,
              static_cast<double>(all.size()) / secs, Percentile(all, 0.50) * 1e3,
              Percentile(all, 0.99) * 1e3);
  return 0;
}

int Retr(const std::string& path) {
  Control c(Connect(g_host, g_port));
  c.Login();
  c.Expect("TYPE I", 200);
  std::vector<char> buf(kReadBuf);
  auto t0 = Clock::now();
  size_t bytes = Transfer(c, "RETR " + path, buf);
  double secs = Seconds(t0, Clock::now());
  c.Expect("QUIT", 221);
  std::printf("bytes=%zu seconds=%.6f mbps=%.3f\n", bytes, secs,
              static_cast<double>(bytes) / secs / 1e6);
  return 0;
}

int RetrMany(const std::string& dir, int count, int nfiles) {
  Control c(Connect(g_host, g_port));
  c.Login();
  c.Expect("TYPE I", 200);
  std::vector<char> buf(kReadBuf);
  size_t bytes = 0;
  auto t0 = Clock::now();
  for (int i = 0; i < count; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "/f%04d", i % nfiles);
    bytes += Transfer(c, "RETR " + dir + name, buf);
  }
  double secs = Seconds(t0, Clock::now());
  c.Expect("QUIT", 221);
  std::printf("files=%d bytes=%zu seconds=%.6f rate=%.3f\n", count, bytes, secs, count / secs);
  return 0;
}

int List(const std::string& dir) {
  Control c(Connect(g_host, g_port));
  c.Login();
  std::vector<char> buf(kReadBuf);
  size_t lines = 0;
  auto t0 = Clock::now();
  size_t bytes = Transfer(c, "LIST " + dir, buf, &lines);
  double secs = Seconds(t0, Clock::now());
  c.Expect("QUIT", 221);
  std::printf("bytes=%zu lines=%zu seconds=%.6f\n", bytes, lines, secs);
  return 0;
}

int Hold(int n) {
  std::vector<std::unique_ptr<Control>> conns;
  for (int i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<Control>(Connect(g_host, g_port)));
    conns.back()->Login();
    conns.back()->Expect("PWD", 257);
  }
  std::printf("ready sessions=%d\n", n);
  std::fflush(stdout);
  char tmp[64];
  while (read(0, tmp, sizeof tmp) > 0) {
  }
  for (auto& c : conns) {
    c->Expect("QUIT", 221);
    c->WaitClose();
  }
  std::printf("done sessions=%d\n", n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  auto usage = [] {
    std::fprintf(stderr, "usage: see the comment at the top of bench/client.cc\n");
    return 2;
  };
  if (a.size() < 3) return usage();
  g_host = a[1];
  g_port = std::atoi(a[2].c_str());
  const std::string& mode = a[0];
  if (mode == "sessions" && a.size() == 6)
    return Sessions(std::atoi(a[3].c_str()), std::atoi(a[4].c_str()), a[5] == "ftp");
  if (mode == "retr" && a.size() == 4) return Retr(a[3]);
  if (mode == "retrmany" && a.size() == 6)
    return RetrMany(a[3], std::atoi(a[4].c_str()), std::atoi(a[5].c_str()));
  if (mode == "list" && a.size() == 4) return List(a[3]);
  if (mode == "hold" && a.size() == 4) return Hold(std::atoi(a[3].c_str()));
  return usage();
}
