// Load client for bench/run.sh: the minimal FTP it needs (control replies, USER/PASS, PASV,
// RETR, STOR, LIST, and FTPS with OpenSSL), parallel sessions on threads, and timing. Every
// mode prints one line of key=value pairs on stdout; any protocol or socket error is fatal
// (exit 1, message on stderr), because the benchmark must fail when a server fails to serve.
//
// FTPS (the modes below that take "tls"): AUTH TLS on the control connection, then PBSZ 0 and
// PROT P before any transfer; every data connection resumes the control connection's TLS
// session (SSL_set_session with SSL_get1_session of the control connection, taken after the
// control replies have been read, so TLS 1.3 tickets would have arrived) and fails if the
// session was not resumed. TLS is capped at 1.2 with ECDHE-RSA-AES256-GCM-SHA384, so both
// servers negotiate the same thing; certificates are not verified.
//
//   client sessions HOST PORT N PARALLEL ftp|tls|banner|login [USER PASS]
//       N sessions in total, PARALLEL at a time. ftp: connect, 220, USER anonymous, PASS x@y,
//       PWD, QUIT, wait for close. tls: the same with AUTH TLS after the 220. login: as ftp,
//       with USER and PASS given (a local user). banner: connect, read the 220 line, wait for
//       close.
//   client phases HOST PORT N ftp|tls
//       N sessions as `sessions N 1`, one at a time, each step timed on its own; prints the
//       median of each step in milliseconds: connect to the 220, AUTH TLS to the 234, the
//       handshake, USER to 331, PASS to 230, PWD to 257, QUIT to 221, the 221 to the close.
//   client retr HOST PORT PATH [tls|ascii]
//                                         one passive RETR of PATH, binary (TYPE I), or over
//                                         TLS, or in ASCII mode (TYPE A)
//   client stor HOST PORT PATH LOCAL [tls]
//                                         one binary passive STOR of the file LOCAL (read
//                                         into memory before timing) to PATH
//   client retrmany HOST PORT DIR COUNT NFILES
//                                         COUNT RETRs in one session of DIR/fNNNN, cycling
//                                         over NFILES files
//   client list HOST PORT DIR [LIST|NLST|MLSD]
//                                         one passive listing of DIR (LIST by default)
//   client hold HOST PORT N               log N sessions in, print "ready", wait until stdin
//                                         closes, then QUIT them all
//   client hold HOST PORT N tls|banner    the same over TLS (AUTH TLS, then the login and PWD),
//                                         or connected and greeted only (the 220, no login)
//   client many HOST PORT N PARALLEL      log N sessions in, PARALLEL at a time, and keep them
//                                         all open (timed: the first connect to the last 230);
//                                         then send NOOP on every one and read the replies
//                                         (timed; counts the 200s); print "ready ...", wait
//                                         until stdin closes, then QUIT them all. Raises its
//                                         own RLIMIT_NOFILE to fit N connections. A session
//                                         that fails (refused, closed, a reply other than 230,
//                                         no reply within the timeout) is not fatal here: no
//                                         new login starts after the first failure, the ones
//                                         held go on, and "ready" says how many were held
//                                         (sessions=) and, after " why: ", the first error.
//
// BENCH_IO_TIMEOUT (seconds, default 60): how long any read or write on a socket may wait.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Set on the threads of the many mode, where a failed session is counted rather than fatal:
// Die() then throws, and the session that failed is closed by its destructor.
thread_local bool t_soft_failures = false;

[[noreturn]] void Die(const std::string& what) {
  if (t_soft_failures) throw std::runtime_error(what);
  std::fprintf(stderr, "client: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

std::string g_host;
int g_port = 0;
long g_io_timeout = 60;  // seconds (BENCH_IO_TIMEOUT)
constexpr size_t kReadBuf = 256 * 1024;
constexpr const char* kCipher = "ECDHE-RSA-AES256-GCM-SHA384";

std::string SslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return std::string("errno: ") + strerror(errno);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// One client context for every connection (OpenSSL 3 contexts are thread-safe).
SSL_CTX* TlsContext() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (c == nullptr ||
        SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(c, kCipher) != 1)
      Die("TLS client context: " + SslError());
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    // The end of a data connection without close_notify counts as its end (the byte count
    // is checked anyway).
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return c;
  }();
  return ctx;
}

// Client handshake on fd, resuming `resume` if given; dies with `what` on failure.
SSL* TlsConnect(int fd, SSL_SESSION* resume, const std::string& what) {
  SSL* ssl = SSL_new(TlsContext());
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) Die(what + ": SSL_new: " + SslError());
  if (resume != nullptr && SSL_set_session(ssl, resume) != 1)
    Die(what + ": SSL_set_session: " + SslError());
  if (SSL_connect(ssl) != 1) Die(what + ": TLS handshake failed: " + SslError());
  if (resume != nullptr && SSL_session_reused(ssl) != 1)
    Die(what + ": the server did not resume the control connection's TLS session");
  if (std::strcmp(SSL_get_cipher_name(ssl), kCipher) != 0 ||
      SSL_version(ssl) != TLS1_2_VERSION)
    Die(what + ": negotiated " + SSL_get_version(ssl) + " " + SSL_get_cipher_name(ssl));
  return ssl;
}

// recv/send, or SSL_read/SSL_write when ssl is set. Read returns 0 at the end of the stream
// (close_notify or TCP end), -1 with errno on a socket error; TLS errors are fatal.
ssize_t IoRead(int fd, SSL* ssl, void* buf, size_t len, const char* what) {
  if (ssl == nullptr) {
    for (;;) {
      ssize_t n = recv(fd, buf, len, 0);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }
  int n = SSL_read(ssl, buf, static_cast<int>(std::min(len, size_t{1} << 30)));
  if (n > 0) return n;
  int err = SSL_get_error(ssl, n);
  if (err == SSL_ERROR_ZERO_RETURN) return 0;
  if (err == SSL_ERROR_SYSCALL && errno != 0) return -1;
  Die(std::string(what) + ": SSL_read: " + SslError());
}

void IoWriteAll(int fd, SSL* ssl, const char* p, size_t left, const char* what) {
  while (left > 0) {
    size_t chunk = std::min(left, kReadBuf);
    if (ssl != nullptr) {
      int n = SSL_write(ssl, p, static_cast<int>(chunk));
      if (n <= 0) Die(std::string(what) + ": SSL_write: " + SslError());
      p += n;
      left -= static_cast<size_t>(n);
      continue;
    }
    ssize_t n = send(fd, p, chunk, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Die(std::string(what) + ": send: " + strerror(errno));
    p += n;
    left -= static_cast<size_t>(n);
  }
}

int Connect(const std::string& host, int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) Die("bad address " + host);
  for (int attempt = 0;; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) Die(std::string("socket: ") + strerror(errno));
    timeval tv{g_io_timeout, 0};
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
    if (session_ != nullptr) SSL_SESSION_free(session_);
    if (ssl_ != nullptr) SSL_free(ssl_);
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
      ssize_t n = IoRead(fd_, ssl_, tmp, sizeof tmp, "control");
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
    IoWriteAll(fd_, ssl_, s.data(), s.size(), "control");
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
      ssize_t n = IoRead(fd_, ssl_, tmp, sizeof tmp, "waiting for close");
      if (n == 0) return;
      if (n < 0) {
        if (errno == ECONNRESET) return;
        Die(std::string("waiting for close: ") + strerror(errno));
      }
    }
  }

  // AUTH TLS and the control connection's handshake (right after the 220).
  void StartTls() {
    Expect("AUTH TLS", 234);
    StartTlsAfter234();
  }

  // The handshake, once the 234 has been read.
  void StartTlsAfter234() {
    if (!buf_.empty()) Die("data after the 234 reply, before the TLS handshake");
    ssl_ = TlsConnect(fd_, nullptr, "control connection");
  }

  // PBSZ 0 and PROT P: every data connection is TLS from then on.
  void ProtectData() {
    Expect("PBSZ 0", 200);
    Expect("PROT P", 200);
    protected_ = true;
  }

  // 220, then (with tls) AUTH TLS, USER, PASS; with tls also PBSZ 0 and PROT P if protect.
  void Login(bool tls = false, bool protect = true, const std::string& user = "anonymous",
             const std::string& pass = "x@y") {
    ExpectReply(220, "banner");
    if (tls) StartTls();
    int code = Cmd("USER " + user);
    if (code == 331) code = Cmd("PASS " + pass);
    if (code != 230) Die("login failed: " + last_);
    if (tls && protect) ProtectData();
  }

  bool data_protected() const { return protected_; }

  // The session data connections resume: the control connection's, taken once, after
  // replies have been read over TLS (so TLS 1.3 tickets, sent after the handshake, are in).
  SSL_SESSION* Session() {
    if (session_ == nullptr) {
      session_ = SSL_get1_session(ssl_);
      if (session_ == nullptr) Die("control connection has no TLS session to resume");
    }
    return session_;
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
  SSL* ssl_ = nullptr;
  SSL_SESSION* session_ = nullptr;
  bool protected_ = false;
  std::string buf_;
  size_t pos_ = 0;
  std::string last_;
};

// A data connection: plain, or (after PROT P) TLS resuming the control connection's session.
class Data {
 public:
  explicit Data(int fd) : fd_(fd) {}
  ~Data() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
  }
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;

  // The client side of the data connection's handshake. Called after the transfer command
  // has been sent: a server may accept the data connection only once it has the command.
  void StartTls(Control& c) { ssl_ = TlsConnect(fd_, c.Session(), "data connection"); }

  // Reads to the end of the stream; returns the byte count (and the newline count).
  size_t Drain(std::vector<char>& buf, size_t* newlines = nullptr) {
    size_t total = 0;
    for (;;) {
      ssize_t n = IoRead(fd_, ssl_, buf.data(), buf.size(), "data");
      if (n < 0) Die(std::string("data recv: ") + strerror(errno));
      if (n == 0) break;
      total += static_cast<size_t>(n);
      if (newlines) *newlines += static_cast<size_t>(std::count(buf.data(), buf.data() + n, '\n'));
    }
    return total;
  }

  // Sends everything, then ends the stream (close_notify with TLS, then FIN) and waits for the
  // server to close its side, so that closing never resets a connection with data unread.
  void SendAll(const std::vector<char>& data) {
    IoWriteAll(fd_, ssl_, data.data(), data.size(), "data");
    if (ssl_ != nullptr && SSL_shutdown(ssl_) < 0) Die("data SSL_shutdown: " + SslError());
    shutdown(fd_, SHUT_WR);
    char tmp[4096];
    for (;;) {
      ssize_t n = ssl_ != nullptr ? SSL_read(ssl_, tmp, sizeof tmp) : recv(fd_, tmp, sizeof tmp, 0);
      if (n > 0) continue;
      if (n < 0 && ssl_ == nullptr && errno == EINTR) continue;
      break;  // the server's close (or close_notify, or reset): the transfer end is on control
    }
  }

 private:
  int fd_;
  SSL* ssl_ = nullptr;
};

// The transfer command and its preliminary reply; returns the data connection, ready.
std::unique_ptr<Data> Open(Control& c, const std::string& command) {
  auto data = std::make_unique<Data>(c.Pasv());
  c.Send(command);
  if (c.data_protected()) data->StartTls(c);
  int code = c.Reply();
  if (code != 150 && code != 125) Die(command + ": " + c.last());
  return data;
}

// One download: PASV, COMMAND, 150/125, data to EOF, 226.
size_t Transfer(Control& c, const std::string& command, std::vector<char>& buf,
                size_t* newlines = nullptr) {
  size_t n = Open(c, command)->Drain(buf, newlines);
  int code = c.Reply();
  if (code != 226) Die(command + " end: " + c.last());
  return n;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int Sessions(int n, int parallel, bool ftp, bool tls, const std::string& user,
             const std::string& pass) {
  std::atomic<int> next{0};
  std::vector<std::vector<double>> lat(static_cast<size_t>(parallel));
  auto worker = [&](size_t me) {
    for (;;) {
      if (next.fetch_add(1) >= n) return;
      auto t0 = Clock::now();
      Control c(Connect(g_host, g_port));
      if (ftp) {
        c.Login(tls, /*protect=*/false, user, pass);
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

// Where the time of one sequential session goes, step by step, from the client's side.
int Phases(int n, bool tls) {
  const char* names[] = {"banner", "auth", "handshake", "user", "pass", "pwd", "quit", "close"};
  constexpr size_t kSteps = sizeof names / sizeof names[0];
  std::vector<std::vector<double>> ms(kSteps);
  for (int i = 0; i < n; ++i) {
    Control c(Connect(g_host, g_port));
    auto t = Clock::now();
    auto lap = [&](size_t step) {
      auto now = Clock::now();
      ms[step].push_back(Seconds(t, now) * 1e3);
      t = now;
    };
    c.ExpectReply(220, "banner");
    lap(0);
    if (tls) {
      c.Expect("AUTH TLS", 234);
      lap(1);
      c.StartTlsAfter234();
      lap(2);
    }
    c.Expect("USER anonymous", 331);
    lap(3);
    c.Expect("PASS x@y", 230);
    lap(4);
    c.Expect("PWD", 257);
    lap(5);
    c.Expect("QUIT", 221);
    lap(6);
    c.WaitClose();
    lap(7);
  }
  for (size_t step = 0; step < kSteps; ++step) {
    if (!tls && (step == 1 || step == 2)) continue;
    std::printf("%s%s_ms=%.3f", step == 0 ? "" : " ", names[step], Percentile(ms[step], 0.5));
  }
  std::printf("\n");
  return 0;
}

int Retr(const std::string& path, bool tls, bool ascii) {
  Control c(Connect(g_host, g_port));
  c.Login(tls);
  c.Expect(ascii ? "TYPE A" : "TYPE I", 200);
  std::vector<char> buf(kReadBuf);
  auto t0 = Clock::now();
  size_t bytes = Transfer(c, "RETR " + path, buf);
  double secs = Seconds(t0, Clock::now());
  c.Expect("QUIT", 221);
  std::printf("bytes=%zu seconds=%.6f mbps=%.3f\n", bytes, secs,
              static_cast<double>(bytes) / secs / 1e6);
  return 0;
}

int Stor(const std::string& path, const std::string& local, bool tls) {
  std::vector<char> data;
  {
    int fd = open(local.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) Die("open " + local + ": " + strerror(errno));
    data.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < data.size()) {
      ssize_t n = read(fd, data.data() + got, data.size() - got);
      if (n <= 0) Die("read " + local + ": " + (n < 0 ? strerror(errno) : "short file"));
      got += static_cast<size_t>(n);
    }
    close(fd);
  }
  Control c(Connect(g_host, g_port));
  c.Login(tls);
  c.Expect("TYPE I", 200);
  auto t0 = Clock::now();
  Open(c, "STOR " + path)->SendAll(data);
  int code = c.Reply();
  if (code != 226) Die("STOR " + path + " end: " + c.last());
  double secs = Seconds(t0, Clock::now());
  c.Expect("QUIT", 221);
  std::printf("bytes=%zu seconds=%.6f mbps=%.3f\n", data.size(), secs,
              static_cast<double>(data.size()) / secs / 1e6);
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

int List(const std::string& dir, const std::string& command) {
  Control c(Connect(g_host, g_port));
  c.Login();
  std::vector<char> buf(kReadBuf);
  size_t lines = 0;
  auto t0 = Clock::now();
  size_t bytes = Transfer(c, command + " " + dir, buf, &lines);
  double secs = Seconds(t0, Clock::now());
  c.Expect("QUIT", 221);
  std::printf("bytes=%zu lines=%zu seconds=%.6f\n", bytes, lines, secs);
  return 0;
}

// mode: "ftp" (logged in, PWD), "tls" (the same after AUTH TLS) or "banner" (the 220 only).
int Hold(int n, const std::string& mode) {
  std::vector<std::unique_ptr<Control>> conns;
  for (int i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<Control>(Connect(g_host, g_port)));
    if (mode == "banner") {
      conns.back()->ExpectReply(220, "banner");
      continue;
    }
    conns.back()->Login(mode == "tls", /*protect=*/false);
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

// Room for n connections (and the few other descriptors): soft RLIMIT_NOFILE up to the hard
// one, and the hard one raised too if it is lower (root may).
void RaiseFileLimit(size_t n) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) Die(std::string("getrlimit: ") + strerror(errno));
  rlim_t want = static_cast<rlim_t>(n) + 64;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) rl.rlim_max = want;
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur < want) rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    Die("setrlimit(RLIMIT_NOFILE, " + std::to_string(want) + "): " + strerror(errno));
}

// The client's own peak memory, for the report: VmHWM, the peak of this process's address space.
// (getrusage's ru_maxrss would also count the address space before the exec: the forking
// bench.py's, which holds the 1 GiB file of the STOR rows.)
long PeakRssKib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  long kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib;
}

// The first failure of the many mode, kept for the report (one line, no newlines).
struct FirstError {
  std::mutex mu;
  std::string text;
  void Keep(const std::string& where, const std::exception& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (!text.empty()) return;
    text = where + ": " + e.what();
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::replace(text.begin(), text.end(), '\r', ' ');
  }
};

int Many(int n, int parallel) {
  RaiseFileLimit(static_cast<size_t>(n));
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  FirstError first;
  std::vector<std::vector<std::unique_ptr<Control>>> held(static_cast<size_t>(parallel));
  auto worker = [&](size_t me) {
    t_soft_failures = true;
    int i;
    while (!stop && (i = next.fetch_add(1)) < n) {
      try {
        auto c = std::make_unique<Control>(Connect(g_host, g_port));
        c->Login();
        held[me].push_back(std::move(c));
      } catch (const std::exception& e) {
        first.Keep("login " + std::to_string(i + 1) + " of " + std::to_string(n), e);
        stop = true;
      }
    }
  };
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < parallel; ++i) threads.emplace_back(worker, static_cast<size_t>(i));
  for (auto& t : threads) t.join();
  double login_secs = Seconds(t0, Clock::now());
  std::vector<std::unique_ptr<Control>> conns;
  for (auto& v : held)
    for (auto& c : v) conns.push_back(std::move(c));
  // Every session at once: NOOP on all of them, then the replies. A session that fails here
  // is closed and not counted.
  t_soft_failures = true;
  auto t1 = Clock::now();
  std::vector<bool> alive(conns.size(), true);
  for (size_t i = 0; i < conns.size(); ++i) {
    try {
      conns[i]->Send("NOOP");
    } catch (const std::exception& e) {
      first.Keep("NOOP", e);
      alive[i] = false;
    }
  }
  int ok = 0;
  for (size_t i = 0; i < conns.size(); ++i) {
    if (!alive[i]) continue;
    try {
      if (conns[i]->Reply() == 200) ++ok;
    } catch (const std::exception& e) {
      first.Keep("NOOP reply", e);
      alive[i] = false;
    }
  }
  double noop_secs = Seconds(t1, Clock::now());
  std::printf("ready sessions=%zu login_seconds=%.6f noop_ok=%d noop_seconds=%.6f "
              "client_maxrss_kib=%ld%s%s\n",
              conns.size(), login_secs, ok, noop_secs, PeakRssKib(),
              first.text.empty() ? "" : " why: ", first.text.c_str());
  std::fflush(stdout);
  char tmp[64];
  while (read(0, tmp, sizeof tmp) > 0) {
  }
  // QUIT on every session still open, then each 221 and the server's close.
  int quit_ok = 0;
  for (size_t i = 0; i < conns.size(); ++i) {
    if (!alive[i]) continue;
    try {
      conns[i]->Send("QUIT");
    } catch (const std::exception&) {
      alive[i] = false;
    }
  }
  for (size_t i = 0; i < conns.size(); ++i) {
    if (!alive[i]) continue;
    try {
      if (conns[i]->Reply() == 221) {
        conns[i]->WaitClose();
        ++quit_ok;
      }
    } catch (const std::exception&) {
    }
  }
  conns.clear();
  std::printf("done sessions=%zu quit_ok=%d\n", alive.size(), quit_ok);
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
  if (const char* t = std::getenv("BENCH_IO_TIMEOUT"); t != nullptr && std::atol(t) > 0)
    g_io_timeout = std::atol(t);
  g_host = a[1];
  g_port = std::atoi(a[2].c_str());
  const std::string& mode = a[0];
  if (mode == "sessions" && a.size() == 6 && (a[5] == "ftp" || a[5] == "tls" || a[5] == "banner"))
    return Sessions(std::atoi(a[3].c_str()), std::atoi(a[4].c_str()), a[5] != "banner",
                    a[5] == "tls", "anonymous", "x@y");
  if (mode == "sessions" && a.size() == 8 && a[5] == "login")
    return Sessions(std::atoi(a[3].c_str()), std::atoi(a[4].c_str()), true, false, a[6], a[7]);
  if (mode == "phases" && a.size() == 5 && (a[4] == "ftp" || a[4] == "tls"))
    return Phases(std::atoi(a[3].c_str()), a[4] == "tls");
  if (mode == "retr" && (a.size() == 4 || (a.size() == 5 && (a[4] == "tls" || a[4] == "ascii"))))
    return Retr(a[3], a.size() == 5 && a[4] == "tls", a.size() == 5 && a[4] == "ascii");
  if (mode == "stor" && (a.size() == 5 || (a.size() == 6 && a[5] == "tls")))
    return Stor(a[3], a[4], a.size() == 6);
  if (mode == "retrmany" && a.size() == 6)
    return RetrMany(a[3], std::atoi(a[4].c_str()), std::atoi(a[5].c_str()));
  if (mode == "list" && a.size() == 4) return List(a[3], "LIST");
  if (mode == "list" && a.size() == 5 && (a[4] == "LIST" || a[4] == "NLST" || a[4] == "MLSD"))
    return List(a[3], a[4]);
  if (mode == "many" && a.size() == 5)
    return Many(std::atoi(a[3].c_str()), std::atoi(a[4].c_str()));
  if (mode == "hold" && a.size() == 4) return Hold(std::atoi(a[3].c_str()), "ftp");
  if (mode == "hold" && a.size() == 5 && (a[4] == "tls" || a[4] == "banner"))
    return Hold(std::atoi(a[3].c_str()), a[4]);
  return usage();
}
