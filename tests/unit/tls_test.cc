// Tests for src/jail/tls.cc, the TLS jail: MakeServerContext and CheckTlsFiles accept a matching
// certificate and key, offer TLS 1.2 and 1.3 only and name the option and file of what is wrong;
// SendTlsReady tells the monitor; RunTlsJail, in a forked child that plays the jail without its
// chroot and filter, leaves the client's bytes alone until TLS_START, relays the control and data
// connections unchanged, ends with the connection, enforces require_ssl_reuse and reports in
// TLS_DATA_END whether a data connection ended with the client's close_notify.
#include "tls.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config.h"
#include "ipc.h"
#include "ipc_messages.h"
#include "log.h"
#include "test_support.h"
#include "unique_fd.h"
#include "wire.h"

namespace keepftpd {
namespace {

constexpr int kWaitMs = 5000;  // the longest any read or wait of this test blocks

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SessionFree {
  void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};
using Ssl = std::unique_ptr<SSL, SslFree>;
using Ctx = std::unique_ptr<SSL_CTX, CtxFree>;
using Session = std::unique_ptr<SSL_SESSION, SessionFree>;

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// ---- Certificates and keys, made in this process ----

struct Credentials {
  std::string key_pem;         // PKCS#8
  std::string key_pkcs1_pem;   // the traditional form ("BEGIN RSA PRIVATE KEY"), RSA only
  std::string cert_pem;        // self-signed
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// A new key of type "RSA" (2048 bits) or "EC" (P-256) and a self-signed certificate for it.
Credentials MakeCredentials(std::string_view type) {
  Credentials out;
  EVP_PKEY* key = type == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048})
                                : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* cert = X509_new();
  BIO* bio = BIO_new(BIO_s_mem());
  if (key == nullptr || cert == nullptr || bio == nullptr) {
    CHECK_MESSAGE(false, "cannot make a key and certificate");
  } else {
    X509_set_version(cert, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("ftp.example.test"), -1, -1,
                               0);
    X509_set_issuer_name(cert, name);
    CHECK(X509_sign(cert, key, EVP_sha256()) > 0);
    CHECK(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
    out.key_pem = BioText(bio);
    BIO_reset(bio);
    if (type == "RSA") {
      CHECK(PEM_write_bio_PrivateKey_traditional(bio, key, nullptr, nullptr, 0, nullptr,
                                                 nullptr) == 1);
      out.key_pkcs1_pem = BioText(bio);
      BIO_reset(bio);
    }
    CHECK(PEM_write_bio_X509(bio, cert) == 1);
    out.cert_pem = BioText(bio);
  }
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// Made once for the whole program: key generation is the slow part.
const Credentials& Rsa() {
  static const Credentials c = MakeCredentials("RSA");
  return c;
}
const Credentials& OtherRsa() {
  static const Credentials c = MakeCredentials("RSA");
  return c;
}

// The Config a config file with text would give (text must be valid).
Config ParseOk(const std::string& text) {
  std::vector<ConfigError> errors;
  Config config = ParseConfig(text, "tls_test.conf", &errors);
  for (const ConfigError& e : errors) CHECK_MESSAGE(false, e.ToString());
  return config;
}

Config FilesConfig(const std::string& cert, const std::string& key, const std::string& extra = "") {
  std::string text = "rsa_cert_file=" + cert + "\n";
  if (!key.empty()) text += "rsa_private_key_file=" + key + "\n";
  return ParseOk(text + extra);
}

// ---- TLS in this process ----

Ctx ClientContext() {
  Ctx ctx(SSL_CTX_new(TLS_client_method()));
  CHECK(ctx != nullptr);  // it verifies nothing: the certificate is self-signed
  return ctx;
}

void SetNonBlocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

// Reads and writes on fd give up after kWaitMs instead of blocking for ever.
void SetTimeouts(int fd) {
  timeval tv = {kWaitMs / 1000, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// A handshake between a server and a client of these contexts over a socket pair of this process,
// the two ends taking turns. The version agreed ("TLSv1.3"), or empty when it failed.
std::string HandshakeInProcess(SSL_CTX* server_ctx, SSL_CTX* client_ctx) {
  int fds[2];
  CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0,
                  "");
  UniqueFd server_fd(fds[0]), client_fd(fds[1]);
  Ssl server(SSL_new(server_ctx)), client(SSL_new(client_ctx));
  CHECK_OR_RETURN(server != nullptr && client != nullptr, "");
  SSL_set_fd(server.get(), server_fd.get());
  SSL_set_fd(client.get(), client_fd.get());
  bool server_done = false, client_done = false, failed = false;
  auto step = [&failed](SSL* ssl, bool* done, int (*fn)(SSL*)) {
    if (*done || failed) return;
    int r = fn(ssl);
    if (r == 1) {
      *done = true;
      return;
    }
    int err = SSL_get_error(ssl, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) failed = true;
  };
  for (int turn = 0; turn < 100 && !failed && !(server_done && client_done); ++turn) {
    step(client.get(), &client_done, SSL_connect);
    step(server.get(), &server_done, SSL_accept);
  }
  ERR_clear_error();
  if (!server_done || !client_done) return "";
  return SSL_get_version(server.get());
}

// ---- Reading and writing, each bounded ----

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Up to n bytes from fd, fewer if the stream ends first (*eof then) or nothing comes in kWaitMs.
std::string Receive(int fd, std::size_t n, bool* eof = nullptr) {
  std::string out;
  if (eof != nullptr) *eof = false;
  char buf[65536];
  while (out.size() < n) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, kWaitMs) <= 0) break;
    ssize_t got = recv(fd, buf, std::min(sizeof(buf), n - out.size()), MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got <= 0) {
      if (eof != nullptr) *eof = got == 0;
      break;
    }
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

// True when fd's stream ends with nothing more in it (within kWaitMs).
bool EndsNow(int fd) {
  bool eof = false;
  std::string rest = Receive(fd, 1, &eof);
  return rest.empty() && eof;
}

bool SslWriteAll(SSL* ssl, std::string_view bytes) {
  while (!bytes.empty()) {
    const std::size_t chunk = std::min<std::size_t>(bytes.size(), 1 << 20);
    int n = SSL_write(ssl, bytes.data(), static_cast<int>(chunk));
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Up to n bytes of plaintext from ssl (on a descriptor with SetTimeouts), fewer if it ends.
// *error: SSL_get_error of the read that stopped it, SSL_ERROR_NONE if none did.
std::string SslRead(SSL* ssl, std::size_t n, int* error = nullptr) {
  std::string out;
  if (error != nullptr) *error = SSL_ERROR_NONE;
  char buf[65536];
  while (out.size() < n) {
    int got = SSL_read(ssl, buf, static_cast<int>(std::min(sizeof(buf), n - out.size())));
    if (got <= 0) {
      if (error != nullptr) *error = SSL_get_error(ssl, got);
      ERR_clear_error();
      break;
    }
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

// Every byte value, CR, LF and NUL among them, n bytes in all.
std::string Pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 256) & 0xff);
  return s;
}

// ---- The TLS jail in a child process ----

// A TLS jail as the monitor starts it, in a forked child but without its chroot and filter. The
// test holds the other end of each of its descriptors: the FTP client's control socket, the
// protocol jail's end of the plaintext stream and the monitor's end of the channel.
class Jail {
 public:
  // options: more config lines.
  explicit Jail(const std::string& options = "")
      : pem_(Rsa().cert_pem + Rsa().key_pem),
        config_(FilesConfig(pem_.path(), "",
                            "idle_session_timeout=10\ndata_connection_timeout=10\n" + options)) {
    Result<SSL_CTX*> ctx = MakeServerContext(config_);
    CHECK_MESSAGE(ctx.ok(), ctx.status().message());
    if (ctx.ok()) ctx_ = *ctx;
    int fds[2];
    CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    client.Reset(fds[0]);
    raw.Reset(fds[1]);
    CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    plain.Reset(fds[0]);
    plain_jail_.Reset(fds[1]);
    CHECK_OR_RETURN(MakeChannel(&monitor, &channel_).ok());
    SetTimeouts(client.get());
    SetTimeouts(plain.get());
    signal(SIGPIPE, SIG_IGN);  // as the monitor does, for itself and its jails
  }
  ~Jail() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    SSL_CTX_free(ctx_);
  }
  Jail(const Jail&) = delete;
  Jail& operator=(const Jail&) = delete;

  // Forks the jail. The test's copy of the jail's end of the control connection (raw) is closed
  // unless keep_raw, so that the client sees the jail's end of the stream.
  bool Start(bool keep_raw = false) {
    CHECK_OR_RETURN(ctx_ != nullptr && channel_.valid(), false);
    pid_ = fork();
    CHECK_OR_RETURN(pid_ >= 0, false);
    if (pid_ == 0) {
      client.Reset();
      plain.Reset();
      monitor.Reset();
      UseJailLogSink(channel_.get());
      RunTlsJail(config_, ctx_, raw.get(), plain_jail_.get(), channel_.get());
    }
    channel_.Reset();
    plain_jail_.Reset();
    if (!keep_raw) raw.Reset();
    return true;
  }

  bool SendStart() { return SendMessage(monitor.get(), MsgType::kTlsStart, {}).ok(); }

  // Waits (at most kWaitMs) for the jail to exit; its waitpid status in *status.
  bool Exited(int* status) {
    for (int waited = 0; pid_ > 0 && waited < kWaitMs; waited += 10) {
      if (waitpid(pid_, status, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      usleep(10000);
    }
    return false;
  }

  // Waits (at most kWaitMs) until the jail's process sleeps, that is waits for something.
  bool Sleeping() {
    const std::string stat_path = "/proc/" + std::to_string(pid_) + "/stat";
    for (int waited = 0; waited < kWaitMs; waited += 10) {
      std::ifstream in(stat_path);
      std::stringstream text;
      text << in.rdbuf();
      const std::string s = text.str();
      std::size_t paren = s.rfind(')');
      if (paren != std::string::npos && paren + 2 < s.size() && s[paren + 2] == 'S') return true;
      usleep(10000);
    }
    return false;
  }

  // The next message from the jail that is not a log record (log records go to logs): kClosed
  // when the channel ends first, kError when nothing comes within wait_ms.
  ReceiveOutcome Read(Message* msg, int wait_ms) {
    while (true) {
      pollfd p = {monitor.get(), POLLIN, 0};
      if (poll(&p, 1, wait_ms) != 1) return ReceiveOutcome::kError;
      std::string error;
      ReceiveOutcome r = ReceiveMessage(monitor.get(), msg, &error);
      if (r != ReceiveOutcome::kMessage || msg->type != MsgType::kLog) return r;
      WireReader reader(msg->body);
      std::uint8_t priority = 0;
      std::string text;
      reader.GetU8(&priority);
      reader.GetString(kMaxLogText, &text);
      CHECK(reader.Finish());
      logs.push_back(text);
    }
  }
  bool Next(Message* msg) {
    CHECK_OR_RETURN(Read(msg, kWaitMs) == ReceiveOutcome::kMessage, false);
    return true;
  }

  bool Logged(std::string_view text) const {
    for (const std::string& line : logs) {
      if (Contains(line, text)) return true;
    }
    return false;
  }

  UniqueFd client;   // the FTP client's control socket
  UniqueFd raw;      // the jail's end of it (the test's copy, until Start)
  UniqueFd plain;    // the protocol jail's end of the plaintext control stream
  UniqueFd monitor;  // the monitor's end of the channel
  std::vector<std::string> logs;

 private:
  test::TempFile pem_;  // certificate and key in one file
  Config config_;
  SSL_CTX* ctx_ = nullptr;
  UniqueFd plain_jail_, channel_;
  pid_t pid_ = -1;
};

bool ExitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

// The client's TLS on the control connection, after TLS_START; null if the handshake failed.
Ssl StartControl(Jail& jail, SSL_CTX* client_ctx) {
  Ssl ssl(SSL_new(client_ctx));
  CHECK_OR_RETURN(ssl != nullptr, nullptr);
  SSL_set_fd(ssl.get(), jail.client.get());
  CHECK_OR_RETURN(jail.SendStart(), nullptr);
  CHECK_OR_RETURN(SSL_connect(ssl.get()) == 1, nullptr);
  return ssl;
}

// The control connection's session, for data connections to resume: a TLS 1.3 session is
// resumable once the client has read the server's tickets, which come before the first reply.
Session ResumableSession(Jail& jail, SSL* control) {
  CHECK_OR_RETURN(SendAll(jail.plain.get(), "200 PROT now P.\r\n"), nullptr);
  CHECK_OR_RETURN(SslRead(control, 17) == "200 PROT now P.\r\n", nullptr);
  Session session(SSL_get1_session(control));
  CHECK_OR_RETURN(session != nullptr, nullptr);
  CHECK_OR_RETURN(SSL_SESSION_is_resumable(session.get()) == 1, nullptr);
  return session;
}

// A data connection the monitor hands to the jail with TLS_WRAP, and what the jail answered.
struct DataConnection {
  UniqueFd net;  // the client's end
  Ssl ssl;       // the client's TLS on it (null if its handshake failed)
  bool ok = false;
  std::string message;
  UniqueFd plain;  // the plaintext end the jail answered with, when ok
};

// TLS_WRAP with a new data connection whose client handshakes, resuming session if not null.
DataConnection WrapData(Jail& jail, SSL_CTX* client_ctx, SSL_SESSION* session) {
  DataConnection d;
  int fds[2];
  CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0, d);
  d.net.Reset(fds[0]);
  UniqueFd jail_end(fds[1]);
  SetTimeouts(d.net.get());
  CHECK_OR_RETURN(SendMessage(jail.monitor.get(), MsgType::kTlsWrap, {}, jail_end.get()).ok(), d);
  jail_end.Reset();
  Ssl ssl(SSL_new(client_ctx));
  CHECK_OR_RETURN(ssl != nullptr, d);
  SSL_set_fd(ssl.get(), d.net.get());
  if (session != nullptr) SSL_set_session(ssl.get(), session);
  CHECK_OR_RETURN(SSL_connect(ssl.get()) == 1, d);
  d.ssl = std::move(ssl);
  Message msg;
  CHECK_OR_RETURN(jail.Next(&msg), d);
  CHECK_OR_RETURN(msg.type == MsgType::kTlsWrapResult, d);
  WireReader r(msg.body);
  std::uint8_t ok = 0;
  r.GetU8(&ok);
  r.GetString(kMaxLogText, &d.message);
  CHECK(r.Finish());
  CHECK(ok <= 1);
  d.ok = ok == 1;
  d.plain = std::move(msg.fd);
  CHECK(d.plain.valid() == d.ok);  // a plaintext end exactly when it worked
  if (d.plain.valid()) SetTimeouts(d.plain.get());
  return d;
}

// The flags of the jail's next TLS_DATA_END (bit 0: not broken, bit 1: close_notify); -1 if none.
int DataEnd(Jail& jail) {
  Message msg;
  CHECK_OR_RETURN(jail.Next(&msg), -1);
  CHECK_OR_RETURN(msg.type == MsgType::kTlsDataEnd, -1);
  WireReader r(msg.body);
  std::uint8_t flags = 0;
  r.GetU8(&flags);
  CHECK_OR_RETURN(r.Finish(), -1);
  return flags;
}

constexpr int kNotBroken = 1;
constexpr int kCloseNotify = 2;

// ---- MakeServerContext and CheckTlsFiles ----

TEST_CASE("a matching certificate and key make a server context, and CheckTlsFiles finds nothing "
          "wrong") {
  Ctx client = ClientContext();
  const Credentials ec = MakeCredentials("EC");
  test::TempFile rsa_cert(Rsa().cert_pem), rsa_key(Rsa().key_pem), rsa_pkcs1(Rsa().key_pkcs1_pem);
  test::TempFile rsa_both(Rsa().cert_pem + Rsa().key_pem);
  test::TempFile rsa_key_first(Rsa().key_pem + Rsa().cert_pem);
  test::TempFile ec_cert(ec.cert_pem), ec_key(ec.key_pem);
  struct Case {
    const char* what;
    std::string cert, key;
  };
  for (const Case& c : {Case{"RSA, key in its own file", rsa_cert.path(), rsa_key.path()},
                        Case{"RSA, PKCS#1 key", rsa_cert.path(), rsa_pkcs1.path()},
                        Case{"RSA, key after the certificate in rsa_cert_file", rsa_both.path(),
                             ""},
                        Case{"RSA, key before the certificate in rsa_private_key_file",
                             rsa_cert.path(), rsa_key_first.path()},
                        Case{"ECDSA", ec_cert.path(), ec_key.path()}}) {
    INFO(c.what);
    Config config = FilesConfig(c.cert, c.key);
    Result<SSL_CTX*> ctx = MakeServerContext(config);
    CHECK_MESSAGE(ctx.ok(), ctx.status().message());
    std::string option;
    CHECK(CheckTlsFiles(config, &option).empty());
    if (!ctx.ok()) continue;
    CHECK(HandshakeInProcess(*ctx, client.get()) == "TLSv1.3");  // it serves with that key
    SSL_CTX_free(*ctx);
  }
}

TEST_CASE("only TLS 1.2 and 1.3 are offered: a client limited to TLS 1.1 fails the handshake, "
          "even when ssl_ciphers lowers the security level") {
  test::TempFile pem(Rsa().cert_pem + Rsa().key_pem);
  // The old client: TLS 1.0 and 1.1 only, at OpenSSL's security level 0 which allows them.
  Ctx old_client = ClientContext();
  SSL_CTX_set_security_level(old_client.get(), 0);
  SSL_CTX_set_min_proto_version(old_client.get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(old_client.get(), TLS1_1_VERSION);
  CHECK(SSL_CTX_set_cipher_list(old_client.get(), "DEFAULT:@SECLEVEL=0") == 1);
  {
    // That client does speak TLS 1.1 to a server that allows it.
    Ctx old_server(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_set_security_level(old_server.get(), 0);
    SSL_CTX_set_min_proto_version(old_server.get(), TLS1_VERSION);
    CHECK(SSL_CTX_set_cipher_list(old_server.get(), "DEFAULT:@SECLEVEL=0") == 1);
    CHECK(SSL_CTX_use_certificate_chain_file(old_server.get(), pem.path().c_str()) == 1);
    CHECK(SSL_CTX_use_PrivateKey_file(old_server.get(), pem.path().c_str(), SSL_FILETYPE_PEM) == 1);
    CHECK(HandshakeInProcess(old_server.get(), old_client.get()) == "TLSv1.1");
  }
  Ctx tls12_client = ClientContext();
  SSL_CTX_set_max_proto_version(tls12_client.get(), TLS1_2_VERSION);
  Ctx new_client = ClientContext();
  const char* lowered = "ssl_ciphers=DEFAULT:@SECLEVEL=0\nssl_tlsv1=YES\nssl_tlsv1_1=YES\n";
  for (const char* extra : {"", lowered}) {
    INFO("config: " << extra);
    Result<SSL_CTX*> ctx = MakeServerContext(FilesConfig(pem.path(), "", extra));
    CHECK_OR_RETURN(ctx.ok());
    CHECK(HandshakeInProcess(*ctx, old_client.get()).empty());
    CHECK(HandshakeInProcess(*ctx, tls12_client.get()) == "TLSv1.2");
    CHECK(HandshakeInProcess(*ctx, new_client.get()) == "TLSv1.3");
    SSL_CTX_free(*ctx);
  }
}

TEST_CASE("a missing or unusable certificate or private key is refused with a message naming the "
          "option, the file and the fix, never OpenSSL's error codes, by MakeServerContext and "
          "CheckTlsFiles alike") {
  test::TempFile cert(Rsa().cert_pem), key(Rsa().key_pem);
  test::TempFile garbage("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  test::TempFile text("just some text\n");
  const std::string missing = cert.path() + "-missing";
  struct Case {
    const char* what;
    std::string cert, key, option, why, fix;
  };
  const std::string cert_fix = "name a PEM file with the server's certificate";
  const std::string key_fix = "name the private key the certificate was made with";
  for (const Case& c :
       {Case{"no certificate file", missing, key.path(), "rsa_cert_file",
             "No such file or directory", cert_fix},
        Case{"no key file", cert.path(), missing, "rsa_private_key_file",
             "No such file or directory", key_fix},
        // Without rsa_private_key_file the key is looked for in rsa_cert_file.
        Case{"no key in rsa_cert_file", cert.path(), "", "rsa_cert_file",
             "no PEM private key in it", "rsa_private_key_file or after the certificate"},
        Case{"a certificate file that holds only a key", key.path(), key.path(), "rsa_cert_file",
             "no PEM certificate in it", cert_fix},
        Case{"a certificate file of text", text.path(), key.path(), "rsa_cert_file",
             "no PEM certificate in it", cert_fix},
        Case{"a broken PEM certificate", garbage.path(), key.path(), "rsa_cert_file",
             "no PEM certificate in it", cert_fix},
        Case{"a key file of text", cert.path(), text.path(), "rsa_private_key_file",
             "no PEM private key in it", key_fix}}) {
    INFO(c.what);
    Config config = FilesConfig(c.cert, c.key);
    std::string option;
    Result<SSL_CTX*> ctx = MakeServerContext(config, &option);
    CHECK_FALSE(ctx.ok());
    if (ctx.ok()) {
      SSL_CTX_free(*ctx);
      continue;
    }
    const std::string message = ctx.status().message();
    INFO(message);
    const std::string file = c.option == "rsa_cert_file" ? c.cert : c.key;
    CHECK(message.rfind(c.option + "=" + file + ": " + c.why, 0) == 0);  // option, file, why
    CHECK(Contains(message, c.fix));
    CHECK_FALSE(Contains(message, "error:"));
    CHECK_FALSE(Contains(message, "routines"));
    CHECK(option == c.option);
    std::string checked_option;
    CHECK(CheckTlsFiles(config, &checked_option) == message);
    CHECK(checked_option == c.option);
  }
}

TEST_CASE("a private key that does not match the certificate is refused, naming the key's option "
          "and file, the certificate and the fix") {
  test::TempFile cert(Rsa().cert_pem), other_key(OtherRsa().key_pem);
  test::TempFile cert_with_other_key(Rsa().cert_pem + OtherRsa().key_pem);
  struct Case {
    const char* what;
    std::string cert, key, option, file;
  };
  for (const Case& c : {Case{"in rsa_private_key_file", cert.path(), other_key.path(),
                             "rsa_private_key_file", other_key.path()},
                        Case{"in rsa_cert_file", cert_with_other_key.path(), "", "rsa_cert_file",
                             cert_with_other_key.path()}}) {
    INFO(c.what);
    Config config = FilesConfig(c.cert, c.key);
    Result<SSL_CTX*> ctx = MakeServerContext(config);
    CHECK_FALSE(ctx.ok());
    if (ctx.ok()) {
      SSL_CTX_free(*ctx);
      continue;
    }
    const std::string message = ctx.status().message();
    INFO(message);
    CHECK(message.rfind(c.option + "=" + c.file + ": the key does not match the certificate "
                        "rsa_cert_file=" + c.cert, 0) == 0);
    CHECK(Contains(message, "name the private key the certificate was made with"));
    CHECK_FALSE(Contains(message, "error:"));
    std::string option;
    CHECK(CheckTlsFiles(config, &option) == message);
    CHECK(option == c.option);
  }
}

TEST_CASE("the default certificate is Debian's snakeoil pair: its key is read from the snakeoil "
          "key file, unless rsa_private_key_file names another") {
  const Config defaults;
  CHECK(defaults.rsa_cert_file == kSnakeoilCert);
  CHECK(defaults.rsa_private_key_file.empty());
  CHECK(TlsKeyFileOf(defaults).path == kSnakeoilKey);
  CHECK(TlsKeyFileOf(defaults).option == std::string_view("rsa_private_key_file"));
  const Config own = ParseOk("rsa_cert_file=/etc/keepftpd/both.pem\n");
  CHECK(TlsKeyFileOf(own).path == "/etc/keepftpd/both.pem");  // vsftpd's way: in the same file
  CHECK(TlsKeyFileOf(own).option == std::string_view("rsa_cert_file"));
  const Config named = ParseOk("rsa_private_key_file=/etc/keepftpd/key.pem\n");
  CHECK(TlsKeyFileOf(named).path == "/etc/keepftpd/key.pem");
}

TEST_CASE("the default ssl_ciphers offers TLS 1.2 clients only forward-secret AEAD suites "
          "(Mozilla's intermediate profile): ECDHE and DHE with AES-GCM or ChaCha20-Poly1305, "
          "never static RSA key exchange or CBC") {
  test::TempFile pem(Rsa().cert_pem + Rsa().key_pem);
  Result<SSL_CTX*> ctx = MakeServerContext(FilesConfig(pem.path(), ""));
  CHECK_OR_RETURN(ctx.ok());
  Ctx server(*ctx);
  auto tls12_with = [&](const char* suites) {
    Ctx client = ClientContext();
    SSL_CTX_set_max_proto_version(client.get(), TLS1_2_VERSION);
    CHECK(SSL_CTX_set_cipher_list(client.get(), suites) == 1);
    return HandshakeInProcess(server.get(), client.get());
  };
  for (const char* good : {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                           "ECDHE-RSA-CHACHA20-POLY1305", "DHE-RSA-AES128-GCM-SHA256",
                           "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305"}) {
    INFO(good);
    CHECK(tls12_with(good) == "TLSv1.2");
  }
  for (const char* bad : {"AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA256",
                          "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384",
                          "DHE-RSA-AES128-SHA256"}) {
    INFO(bad);
    CHECK(tls12_with(bad).empty());
  }
  Ctx tls13 = ClientContext();
  SSL_CTX_set_min_proto_version(tls13.get(), TLS1_3_VERSION);
  CHECK(HandshakeInProcess(server.get(), tls13.get()) == "TLSv1.3");
}

// ---- SendTlsReady ----

TEST_CASE("SendTlsReady tells the monitor that the TLS context is ready, or why it is not") {
  UniqueFd monitor, jail;
  CHECK_OR_RETURN(MakeChannel(&monitor, &jail).ok());
  const std::string long_reason(3000, 'x');
  struct Case {
    std::string error;
    std::uint8_t ok;
    std::string why;
  };
  for (const Case& c : {Case{"", 1, ""},
                        Case{"rsa_cert_file=/etc/ssl/ftp.pem: cannot use the certificate", 0,
                             "rsa_cert_file=/etc/ssl/ftp.pem: cannot use the certificate"},
                        // The reason is a log record's text at most.
                        Case{long_reason, 0, long_reason.substr(0, kMaxLogText)}}) {
    SendTlsReady(jail.get(), c.error);
    pollfd p = {monitor.get(), POLLIN, 0};
    CHECK_OR_RETURN(poll(&p, 1, kWaitMs) == 1);
    Message msg;
    std::string error;
    CHECK_OR_RETURN(ReceiveMessage(monitor.get(), &msg, &error) == ReceiveOutcome::kMessage);
    CHECK(msg.type == MsgType::kTlsReady);
    CHECK_FALSE(msg.fd.valid());
    WireReader r(msg.body);
    std::uint8_t ok = 2;
    std::string why;
    r.GetU8(&ok);
    r.GetString(kMaxLogText, &why);
    CHECK(r.Finish());
    CHECK(ok == c.ok);
    CHECK(why == c.why);
  }
}

// ---- The control connection ----

TEST_CASE("the TLS jail reads nothing from the client before the monitor's TLS_START, then "
          "completes the handshake the client began") {
  Jail jail;
  Ctx client_ctx = ClientContext();
  // The client's ClientHello is there before the jail starts (it sent it after 234).
  Ssl client(SSL_new(client_ctx.get()));
  CHECK_OR_RETURN(client != nullptr);
  SSL_set_fd(client.get(), jail.client.get());
  SetNonBlocking(jail.client.get(), true);
  CHECK(SSL_connect(client.get()) == -1);
  CHECK_OR_RETURN(SSL_get_error(client.get(), -1) == SSL_ERROR_WANT_READ);
  const std::size_t hello = BIO_number_written(SSL_get_wbio(client.get()));
  CHECK(hello > 0);

  CHECK_OR_RETURN(jail.Start(/*keep_raw=*/true));
  CHECK_OR_RETURN(jail.Sleeping());  // waiting: for TLS_START, or (wrongly) for the client
  std::string queued(hello + 1, '\0');
  CHECK(recv(jail.raw.get(), queued.data(), queued.size(), MSG_PEEK | MSG_DONTWAIT) ==
        static_cast<ssize_t>(hello));  // the whole ClientHello is still unread
  char byte;
  CHECK(recv(jail.client.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == -1);  // no answer to it
  jail.raw.Reset();

  CHECK_OR_RETURN(jail.SendStart());
  SetNonBlocking(jail.client.get(), false);
  CHECK_OR_RETURN(SSL_connect(client.get()) == 1);
  CHECK(std::string(SSL_get_version(client.get())) == "TLSv1.3");
  CHECK_OR_RETURN(SendAll(jail.plain.get(), "220 ready\r\n"));
  CHECK(SslRead(client.get(), 11) == "220 ready\r\n");
  Message msg;
  CHECK(jail.Read(&msg, 0) == ReceiveOutcome::kError);  // log records only, no message
  CHECK(jail.Logged("TLS on the control connection: TLSv1.3"));
}

TEST_CASE("plaintext crosses the control connection unchanged both ways, CR, LF, NUL and a 1 MiB "
          "block included") {
  Jail jail;
  Ctx client_ctx = ClientContext();
  CHECK_OR_RETURN(jail.Start());
  Ssl client = StartControl(jail, client_ctx.get());
  CHECK_OR_RETURN(client != nullptr);

  const std::string command("STOR a\rb\nc\0d\r\n", 15);
  CHECK_OR_RETURN(SslWriteAll(client.get(), command));
  CHECK(Receive(jail.plain.get(), command.size()) == command);
  const std::string reply("150 a\0\r\nb\r\n", 11);
  CHECK_OR_RETURN(SendAll(jail.plain.get(), reply));
  CHECK(SslRead(client.get(), reply.size()) == reply);

  // 1 MiB each way, more than every buffer on the way holds: written and read at the same time.
  const std::string block = Pattern(1 << 20);
  bool written = false;
  std::thread writer([&] { written = SslWriteAll(client.get(), block); });
  std::string got = Receive(jail.plain.get(), block.size());
  writer.join();
  CHECK(written);
  CHECK(got.size() == block.size());
  CHECK(got == block);

  std::thread sender([&] { written = SendAll(jail.plain.get(), block); });
  got = SslRead(client.get(), block.size());
  sender.join();
  CHECK(written);
  CHECK(got.size() == block.size());
  CHECK(got == block);

  // And the connection goes on after them.
  CHECK_OR_RETURN(SslWriteAll(client.get(), "QUIT\r\n"));
  CHECK(Receive(jail.plain.get(), 6) == "QUIT\r\n");
}

TEST_CASE("the TLS jail ends with the control connection: the client's close ends the plaintext "
          "stream, the protocol jail's close sends the client close_notify") {
  Jail jail;
  Ctx client_ctx = ClientContext();
  CHECK_OR_RETURN(jail.Start());
  Ssl client = StartControl(jail, client_ctx.get());
  CHECK_OR_RETURN(client != nullptr);
  int status = -1;

  SUBCASE("the client sends close_notify and closes") {
    CHECK_OR_RETURN(SslWriteAll(client.get(), "QUIT\r\n"));
    CHECK(SSL_shutdown(client.get()) == 0);  // close_notify sent
    jail.client.Reset();
    bool eof = false;
    CHECK(Receive(jail.plain.get(), 100, &eof) == "QUIT\r\n");  // what came before it, then
    CHECK(eof);                                                 // the end of the stream
    CHECK_OR_RETURN(jail.Exited(&status));
    CHECK(ExitedWith(status, 0));
  }
  SUBCASE("the client just closes its socket") {
    jail.client.Reset();
    CHECK(EndsNow(jail.plain.get()));
    CHECK_OR_RETURN(jail.Exited(&status));
    CHECK(ExitedWith(status, 0));
  }
  SUBCASE("the protocol jail closes its end after its last reply") {
    CHECK_OR_RETURN(SendAll(jail.plain.get(), "221 Goodbye.\r\n"));
    jail.plain.Reset();
    int error = SSL_ERROR_NONE;
    CHECK(SslRead(client.get(), 100, &error) == "221 Goodbye.\r\n");
    CHECK(error == SSL_ERROR_ZERO_RETURN);  // the reply, then close_notify
    CHECK_OR_RETURN(jail.Exited(&status));
    CHECK(ExitedWith(status, 0));
    char byte;
    CHECK(recv(jail.client.get(), &byte, 1, 0) == 0);  // and the connection's end
  }
}

TEST_CASE("before TLS_START, the TLS jail exits when the monitor goes, and ends on any other "
          "request, leaving the client's bytes unread") {
  Jail jail;
  const std::string hello = "\x16\x03\x01 not read yet";
  CHECK_OR_RETURN(SendAll(jail.client.get(), hello));
  CHECK_OR_RETURN(jail.Start(/*keep_raw=*/true));
  int status = -1;
  SUBCASE("the monitor goes (the session ended without AUTH TLS)") {
    jail.monitor.Reset();
    CHECK_OR_RETURN(jail.Exited(&status));
    CHECK(ExitedWith(status, 0));
  }
  SUBCASE("TLS_WRAP comes first") {
    int fds[2];
    CHECK_OR_RETURN(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    UniqueFd a(fds[0]), b(fds[1]);
    CHECK_OR_RETURN(SendMessage(jail.monitor.get(), MsgType::kTlsWrap, {}, a.get()).ok());
    CHECK_OR_RETURN(jail.Exited(&status));
    CHECK(ExitedWith(status, 1));
  }
  SUBCASE("TLS_START comes with a body") {
    CHECK_OR_RETURN(SendMessage(jail.monitor.get(), MsgType::kTlsStart, "x").ok());
    CHECK_OR_RETURN(jail.Exited(&status));
    CHECK(ExitedWith(status, 1));
  }
  char unread[64];
  ssize_t n = recv(jail.raw.get(), unread, sizeof(unread), MSG_DONTWAIT);
  CHECK(std::string_view(unread, n > 0 ? static_cast<std::size_t>(n) : 0) == hello);
  if (jail.monitor.valid()) {
    Message msg;
    CHECK(jail.Read(&msg, kWaitMs) == ReceiveOutcome::kClosed);  // log records, then the end
    CHECK(jail.Logged("bad request from the monitor"));
  }
}

// ---- Data connections ----

TEST_CASE("a data connection that resumes the control connection's session is relayed both ways, "
          "and one that ends with close_notify both ways is reported so") {
  Jail jail;
  Ctx client_ctx = ClientContext();
  CHECK_OR_RETURN(jail.Start());
  Ssl control = StartControl(jail, client_ctx.get());
  CHECK_OR_RETURN(control != nullptr);
  Session session = ResumableSession(jail, control.get());
  CHECK_OR_RETURN(session != nullptr);

  // A download: the session jail writes the file and closes; the client reads it to the jail's
  // close_notify and answers with its own.
  DataConnection d = WrapData(jail, client_ctx.get(), session.get());
  CHECK_OR_RETURN(d.ok);
  CHECK(SSL_session_reused(d.ssl.get()) == 1);
  CHECK(jail.Logged("session resumed"));
  const std::string file = Pattern(1 << 20);
  bool sent = false;
  std::thread sender([&] {
    sent = SendAll(d.plain.get(), file);
    d.plain.Reset();
  });
  int error = SSL_ERROR_NONE;
  std::string got = SslRead(d.ssl.get(), file.size() + 1, &error);
  sender.join();
  CHECK(sent);
  CHECK(got.size() == file.size());
  CHECK(got == file);
  CHECK(error == SSL_ERROR_ZERO_RETURN);
  CHECK(SSL_shutdown(d.ssl.get()) == 1);  // ours goes back: both close_notify seen
  CHECK(DataEnd(jail) == (kNotBroken | kCloseNotify));
  d = DataConnection();

  // An upload on the next data connection: the client's bytes reach the session jail.
  DataConnection u = WrapData(jail, client_ctx.get(), session.get());
  CHECK_OR_RETURN(u.ok);
  bool written = false;
  std::thread writer([&] { written = SslWriteAll(u.ssl.get(), file); });
  got = Receive(u.plain.get(), file.size());
  writer.join();
  CHECK(written);
  CHECK(got == file);
  // The session jail answers on its end too, before it closes.
  CHECK_OR_RETURN(SendAll(u.plain.get(), std::string("\r\n\0", 3)));
  CHECK(SslRead(u.ssl.get(), 3) == std::string("\r\n\0", 3));

  // The control connection still works.
  CHECK_OR_RETURN(SslWriteAll(control.get(), "NOOP\r\n"));
  CHECK(Receive(jail.plain.get(), 6) == "NOOP\r\n");
}

TEST_CASE("an upload whose client closes without close_notify is not reported as close_notify, "
          "and bytes that are not TLS report the data connection broken") {
  Jail jail;
  Ctx client_ctx = ClientContext();
  CHECK_OR_RETURN(jail.Start());
  Ssl control = StartControl(jail, client_ctx.get());
  CHECK_OR_RETURN(control != nullptr);
  Session session = ResumableSession(jail, control.get());
  CHECK_OR_RETURN(session != nullptr);
  DataConnection u = WrapData(jail, client_ctx.get(), session.get());
  CHECK_OR_RETURN(u.ok);
  const std::string file("line 1\r\nline 2\0\r\n", 17);
  CHECK_OR_RETURN(SslWriteAll(u.ssl.get(), file));
  int expected = -1;

  SUBCASE("the client sends close_notify, then closes") {
    CHECK(SSL_shutdown(u.ssl.get()) == 0);
    expected = kNotBroken | kCloseNotify;
  }
  SUBCASE("the client just closes its socket (a truncated upload looks like this)") {
    expected = kNotBroken;
  }
  SUBCASE("the client sends a record that is not TLS") {
    CHECK_OR_RETURN(SendAll(u.net.get(), std::string("\x17\x03\x03\x00\x20", 5) +
                                             std::string(32, 'x')));
    expected = 0;
  }
  u.net.Reset();
  // Either way the session jail sees the bytes and then the end of the stream: only
  // TLS_DATA_END tells the monitor whether that end was the client's close_notify.
  bool eof = false;
  CHECK(Receive(u.plain.get(), file.size() + 1, &eof) == file);
  CHECK(eof);
  u.plain.Reset();
  CHECK(DataEnd(jail) == expected);

  // The control connection lives on.
  CHECK_OR_RETURN(SslWriteAll(control.get(), "NOOP\r\n"));
  CHECK(Receive(jail.plain.get(), 6) == "NOOP\r\n");
}

TEST_CASE("with require_ssl_reuse a data connection that does not resume the session is refused; "
          "with require_ssl_reuse=NO it is relayed") {
  Ctx client_ctx = ClientContext();
  SUBCASE("require_ssl_reuse=YES (the default)") {
    Jail jail;
    CHECK_OR_RETURN(jail.Start());
    Ssl control = StartControl(jail, client_ctx.get());
    CHECK_OR_RETURN(control != nullptr);
    Session session = ResumableSession(jail, control.get());
    CHECK_OR_RETURN(session != nullptr);
    DataConnection d = WrapData(jail, client_ctx.get(), nullptr);
    CHECK_FALSE(d.ok);
    CHECK(Contains(d.message, "require_ssl_reuse=NO"));
    CHECK(Contains(d.message, "not resumed"));
    d = DataConnection();
    // The refusal ends neither the jail nor the control connection; the next data connection
    // resumes and is relayed.
    DataConnection r = WrapData(jail, client_ctx.get(), session.get());
    CHECK_OR_RETURN(r.ok);
    CHECK_OR_RETURN(SslWriteAll(r.ssl.get(), "abc"));
    CHECK(Receive(r.plain.get(), 3) == "abc");
    CHECK_OR_RETURN(SslWriteAll(control.get(), "NOOP\r\n"));
    CHECK(Receive(jail.plain.get(), 6) == "NOOP\r\n");
  }
  SUBCASE("require_ssl_reuse=NO") {
    Jail jail("require_ssl_reuse=NO\n");
    CHECK_OR_RETURN(jail.Start());
    Ssl control = StartControl(jail, client_ctx.get());
    CHECK_OR_RETURN(control != nullptr);
    DataConnection d = WrapData(jail, client_ctx.get(), nullptr);
    CHECK_OR_RETURN(d.ok);
    CHECK(SSL_session_reused(d.ssl.get()) == 0);
    CHECK(jail.Logged("new session"));
    CHECK_OR_RETURN(SslWriteAll(d.ssl.get(), "abc"));
    CHECK(Receive(d.plain.get(), 3) == "abc");
  }
}

}  // namespace
}  // namespace keepftpd
