// The TLS jail: handshakes and relays for the control connection and the data connections.
// TLS jail only; MakeServerContext runs in its process before it enters the jail, CheckTlsFiles
// for --check-config.
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ipc.h"
#include "ipc_messages.h"
#include "log.h"
#include "openssl_library.h"
#include "proxy_protocol.h"
#include "requests.h"
#include "strutil.h"
#include "unique_fd.h"

namespace keepftpd {

namespace {

constexpr std::size_t kControlPending = 64 << 10;  // bytes held per direction: control
constexpr std::size_t kDataPending = 256 << 10;    // ... data connections
constexpr std::size_t kRecord = 16 << 10;      // plaintext per SSL_write (one full record)
constexpr int kNetWrite = 128 << 10;           // records gathered per write() to the client
constexpr int kPlainBuffer = 1 << 20;          // send buffer of a data connection's socket pair
constexpr int kCloseWaitMs = 5000;            // how long a closing data connection may linger

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

// Why OpenSSL could not read a certificate or key file, in words: its own error codes
// (error:0480006C:PEM routines::...) mean nothing to an administrator.
std::string FileProblem(const char* not_pem) {
  std::vector<unsigned long> queue;  // oldest first: the cause, then who saw it fail
  while (unsigned long e = ERR_get_error()) queue.push_back(e);
  for (unsigned long e : queue) {
    if (ERR_SYSTEM_ERROR(e)) return std::strerror(ERR_GET_REASON(e));  // open() failed
  }
  for (unsigned long e : queue) {
    const int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
    if (lib == ERR_LIB_SSL && reason == SSL_R_EE_KEY_TOO_SMALL) {
      return "its key is too small (OpenSSL wants RSA keys of 2048 bits or more)";
    }
    if (lib == ERR_LIB_SSL && reason == SSL_R_CA_MD_TOO_WEAK) {
      return "it is signed with a digest too weak (such as SHA-1)";
    }
  }
  return not_pem;
}
std::string CertificateProblem() { return FileProblem("no PEM certificate in it"); }
std::string KeyProblem() { return FileProblem("no PEM private key in it"); }

const char kAlpnFtp[] = "ftp";

// ALPACA: a client that offers ALPN must offer "ftp"; one that offers none is fine.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned inlen, void*) {
  for (unsigned i = 0; i < inlen;) {
    unsigned len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == 3 && std::memcmp(in + i + 1, kAlpnFtp, 3) == 0) {
      *out = in + i + 1;
      *outlen = 3;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// ssl_sni_hostname: a client that names a server must name this one.
int CheckSni(SSL* ssl, int* alert, void* arg) {
  const auto* wanted = static_cast<const std::string*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (wanted->empty() || name == nullptr || EqualsIgnoreCase(name, *wanted)) {
    return SSL_TLSEXT_ERR_OK;
  }
  *alert = SSL_AD_UNRECOGNIZED_NAME;
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// Client certificates are asked for (ssl_request_cert) but only checked with validate_cert.
int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

// debug_ssl: alerts in both directions.
void LogTlsInfo(const SSL*, int where, int ret) {
  if ((where & SSL_CB_ALERT) != 0) {
    Log(kLogInfo, std::string("TLS alert ") + ((where & SSL_CB_READ) != 0 ? "received: " : "sent: ") +
                      SSL_alert_type_string_long(ret) + " " + SSL_alert_desc_string_long(ret));
  }
}

// debug_ssl: what the client asked for and showed.
void LogTlsDetails(SSL* ssl, const char* what) {
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  std::string text = std::string("TLS details (") + what + "): SNI " + (sni != nullptr ? sni : "-") +
                     ", ALPN " + (alpn_len > 0 ? std::string(reinterpret_cast<const char*>(alpn), alpn_len) : "-") +
                     ", resumed " + (SSL_session_reused(ssl) != 0 ? "yes" : "no");
  if (X509* peer = SSL_get1_peer_certificate(ssl)) {
    char subject[256];
    X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof(subject));
    text += std::string(", client certificate ") + subject;
    X509_free(peer);
  } else {
    text += ", no client certificate";
  }
  Log(kLogInfo, SanitizeForLog(text));
}

void SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

long NowMs() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

// Bytes on their way through the TLS jail: filled at the end, drained from the front; what it
// holds moves to the front only when that is little (a record at most), so that a byte is
// hardly ever copied twice. Its memory is touched only as it is used.
class Buffer {
 public:
  explicit Buffer(std::size_t capacity)
      : data_(std::make_unique_for_overwrite<char[]>(capacity)), capacity_(capacity) {}

  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  const char* data() const { return data_.get() + begin_; }
  // Where the next bytes go (empty when full, or until little is left to move).
  std::span<char> Room() {
    if (end_ == capacity_ && begin_ > 0 && end_ - begin_ <= kRecord) {
      std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    return {data_.get() + end_, capacity_ - end_};
  }
  void Added(std::size_t n) { end_ += n; }
  void Consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t begin_ = 0, end_ = 0;
};

// One TLS connection and the plaintext socket it is relayed to.
struct Link {
  // capacity: bytes held per direction.
  explicit Link(std::size_t capacity) : to_net(capacity), to_plain(capacity) {}
  SSL* ssl = nullptr;  // freed by ~Link
  UniqueFd net;        // the client's TCP connection
  UniqueFd plain;      // the plaintext end towards the protocol jail
  bool data = false;
  Buffer to_net, to_plain;
  bool net_eof = false;      // the client sent close_notify or closed
  bool clean_eof = false;    // ... with close_notify
  bool plain_eof = false;    // the jail side sends no more
  bool plain_shut = false;   // we told the jail side there is no more
  bool notify_sent = false;  // our close_notify was made (Flushed() says when it went out)
  bool failed = false;
  bool net_error = false;    // the client's side broke (reset), rather than ended
  bool net_readable = true;  // no read has said EAGAIN since poll last said readable
  bool plain_readable = true;
  long closing_since = 0;
  short net_events = 0, plain_events = 0;

  ~Link() {
    if (ssl != nullptr) SSL_free(ssl);
  }

  // After the handshake: records are gathered in a buffer of kNetWrite bytes and go out in one
  // write() when it is full or when there is nothing more to send for now (Flush), instead of
  // one write() per record.
  void BufferWrites() {
    BIO* socket = SSL_get_wbio(ssl);
    BIO* buffer = BIO_new(BIO_f_buffer());
    if (buffer == nullptr || BIO_set_write_buffer_size(buffer, kNetWrite) != 1) {
      BIO_free(buffer);  // unbuffered then
      return;
    }
    // The socket BIO is the read side too: the chain takes a reference of its own.
    BIO_up_ref(socket);
    SSL_set0_wbio(ssl, BIO_push(buffer, socket));
  }

  // What poll said about the two sockets.
  void Polled(short net_revents, short plain_revents) {
    if ((net_revents & (POLLIN | POLLHUP | POLLERR)) != 0) net_readable = true;
    if ((plain_revents & (POLLIN | POLLHUP | POLLERR)) != 0) plain_readable = true;
  }

  // Every record made has gone to the kernel.
  bool Flushed() { return BIO_wpending(SSL_get_wbio(ssl)) == 0; }

  // Records what the last SSL call is waiting for; false on a real error.
  bool Wait(int ret) {
    switch (SSL_get_error(ssl, ret)) {
      case SSL_ERROR_WANT_READ: net_events |= POLLIN; return true;
      case SSL_ERROR_WANT_WRITE: net_events |= POLLOUT; return true;
      default: return false;
    }
  }

  // Moves bytes as far as they go without blocking. A socket is read only when poll said it
  // was readable and no read has said EAGAIN since (or OpenSSL holds bytes read ahead).
  void Pump() {
    net_events = plain_events = 0;
    bool progress = true;
    while (progress && !failed) {
      progress = false;
      // client -> jail
      std::span<char> room = to_plain.Room();
      if (!net_eof && !room.empty() && (net_readable || SSL_has_pending(ssl) == 1)) {
        int n = SSL_read(ssl, room.data(), static_cast<int>(room.size()));
        if (n > 0) {
          to_plain.Added(static_cast<std::size_t>(n));
          progress = true;
        } else {
          int err = SSL_get_error(ssl, n);
          if (err == SSL_ERROR_ZERO_RETURN) {
            net_eof = clean_eof = true;
            progress = true;
          } else if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_SSL) {
            // A plain end of the TCP stream (no close_notify: many clients do that) or a
            // broken connection (reset, or bad TLS), which is not the end of the data.
            unsigned long e = ERR_peek_error();
            bool fin = err == SSL_ERROR_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL &&
                       ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
            if (!fin) net_error = true;
            ERR_clear_error();
            net_eof = true;
            progress = true;
          } else {
            if (err == SSL_ERROR_WANT_READ) net_readable = false;
            Wait(n);
          }
        }
      }
      if (!to_plain.empty()) {
        ssize_t n = send(plain.get(), to_plain.data(), to_plain.size(), MSG_NOSIGNAL);
        if (n > 0) {
          to_plain.Consume(static_cast<std::size_t>(n));
          progress = true;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          plain_events |= POLLOUT;
        } else if (n < 0 && errno != EINTR) {
          failed = true;  // the jail side is gone
        }
      }
      if (net_eof && to_plain.empty() && !plain_shut) {
        shutdown(plain.get(), SHUT_WR);
        plain_shut = true;
        progress = true;
      }
      // jail -> client
      room = to_net.Room();
      if (!plain_eof && !room.empty() && plain_readable) {
        ssize_t n = recv(plain.get(), room.data(), room.size(), 0);
        if (n > 0) {
          to_net.Added(static_cast<std::size_t>(n));
          progress = true;
        } else if (n == 0) {
          plain_eof = true;
          progress = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          plain_readable = false;
        } else if (errno != EINTR) {
          plain_eof = true;
          progress = true;
        }
      }
      if (!to_net.empty() && !write_failed_) {
        int len = static_cast<int>(std::min(to_net.size(), kRecord));
        int n = SSL_write(ssl, to_net.data(), len);
        if (n > 0) {
          to_net.Consume(static_cast<std::size_t>(n));
          progress = true;
        } else if (!Wait(n)) {
          ERR_clear_error();
          write_failed_ = failed = true;
        }
      }
      if (plain_eof && to_net.empty() && !notify_sent) {
        int r = SSL_shutdown(ssl);
        if (r >= 0 || !Wait(r)) {
          ERR_clear_error();
          notify_sent = true;
          closing_since = NowMs();
          progress = true;
        }
      }
      // Nothing more to add for now: send what was gathered.
      if (to_net.empty() && !write_failed_ && !Flushed()) {
        if (BIO_flush(SSL_get_wbio(ssl)) == 1) {
          progress = true;
        } else if (BIO_should_retry(SSL_get_wbio(ssl))) {
          net_events |= POLLOUT;
        } else {
          write_failed_ = failed = true;
        }
      }
    }
    // (Readable is worth hearing only when there is room to read into.)
    if (!net_eof && !to_plain.Room().empty()) net_events |= POLLIN;
    if (!plain_eof && !to_net.Room().empty()) plain_events |= POLLIN;
  }

  // A data connection is over when both directions are, or when it failed.
  bool Done() {
    if (failed) return true;
    if (notify_sent && NowMs() - closing_since > kCloseWaitMs) return true;
    if (!Flushed()) return false;
    return (notify_sent && net_eof) || (net_eof && plain_shut && plain_eof && to_net.empty());
  }

 private:
  bool write_failed_ = false;
};

// Completes a handshake on a blocking-by-poll basis, at most timeout_ms.
bool Handshake(SSL* ssl, int fd, int timeout_ms, std::string* why) {
  long deadline = NowMs() + timeout_ms;
  while (true) {
    int r = SSL_accept(ssl);
    if (r == 1) return true;
    int err = SSL_get_error(ssl, r);
    short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (events == 0) {
      *why = err == SSL_ERROR_SSL ? OpenSslError() : "the connection closed";
      return false;
    }
    long left = deadline - NowMs();
    if (left <= 0) {
      *why = "the TLS handshake timed out";
      return false;
    }
    pollfd p = {fd, events, 0};
    if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      *why = std::strerror(errno);
      return false;
    }
  }
}

void AnswerWrap(int channel, bool ok, std::string_view message, int fd) {
  Status s = SendMessage(channel, MsgType::kTlsWrapResult,
                         Encode(TlsWrapAnswer{ok, std::string(message)}), fd);
  if (!s.ok()) _exit(1);
}

// An RSA private key from a PEM file (PKCS#8 or PKCS#1; other PEM blocks before it, such as the
// certificate, are skipped), or null if the file holds none. A decoder told the key type does
// about a third of the work of one that tries every decoder OpenSSL has, as
// SSL_CTX_use_PrivateKey_file's does (bench/README.md): 1.6M instructions against 4.6M.
EVP_PKEY* ReadRsaPrivateKey(const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) return nullptr;
  EVP_PKEY* key = nullptr;
  OSSL_DECODER_CTX* decoder = OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", nullptr, "RSA",
                                                            EVP_PKEY_KEYPAIR, nullptr, nullptr);
  if (decoder != nullptr) {
    for (long pos = BIO_tell(bio); key == nullptr;) {
      if (OSSL_DECODER_from_bio(decoder, bio) == 1 && key != nullptr) break;
      long next = BIO_tell(bio);
      if (BIO_eof(bio) != 0 || next <= pos) break;
      pos = next;
    }
    OSSL_DECODER_CTX_free(decoder);
  }
  BIO_free(bio);
  return key;
}

// The private key into ctx: an RSA key the quick way, anything else (or an RSA key that way
// cannot read) as OpenSSL reads keys in general, whose errors are the ones reported.
int UsePrivateKeyFile(SSL_CTX* ctx, const std::string& path) {
  ERR_set_mark();
  EVP_PKEY* rsa = ReadRsaPrivateKey(path);
  ERR_pop_to_mark();
  if (rsa == nullptr) return SSL_CTX_use_PrivateKey_file(ctx, path.c_str(), SSL_FILETYPE_PEM);
  int ok = SSL_CTX_use_PrivateKey(ctx, rsa);
  EVP_PKEY_free(rsa);
  return ok;
}

}  // namespace

void SendTlsReady(int channel, std::string_view error) {
  const TlsReadyReport ready{error.empty(), std::string(error)};
  if (!SendMessage(channel, MsgType::kTlsReady, Encode(ready)).ok()) _exit(1);
}

std::string CheckTlsFiles(const Config& config, std::string* option) {
  Result<SSL_CTX*> ctx = MakeServerContext(config, option);
  if (!ctx.ok()) return ctx.status().message();
  SSL_CTX_free(*ctx);
  return "";
}

Result<SSL_CTX*> MakeServerContext(const Config& config, std::string* failed_option) {
  Status loaded = LoadOpenSsl();
  if (!loaded.ok()) return loaded;
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Status::Error("SSL_CTX_new: " + OpenSslError());
  auto fail = [ctx, failed_option](const char* option, std::string message) -> Result<SSL_CTX*> {
    SSL_CTX_free(ctx);
    if (failed_option != nullptr) *failed_option = option;
    return Status::Error(std::move(message));
  };
  // Nothing below TLS 1.2, whatever ssl_sslv3 or ssl_tlsv1 say; TLS 1.3 on.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // The DHE suites of ssl_ciphers' default need a group: the RFC 7919 one that matches the
  // certificate's strength (ffdhe2048 for RSA 2048), as Mozilla's profile has it.
  SSL_CTX_set_dh_auto(ctx, 1);
  const std::string& cert = config.rsa_cert_file;
  const TlsKeyFile key = TlsKeyFileOf(config);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return fail("rsa_cert_file", "rsa_cert_file=" + cert + ": " + CertificateProblem() +
                                     " (name a PEM file with the server's certificate, then its "
                                     "chain, such as Let's Encrypt's fullchain.pem; or set "
                                     "ssl_enable=NO)");
  }
  const std::string key_fix =
      std::string(" (name the private key the certificate was made with, in PEM") +
      (key.option == std::string_view("rsa_cert_file")
           ? ", with rsa_private_key_file or after the certificate in rsa_cert_file)"
           : ", such as Let's Encrypt's privkey.pem)");
  if (UsePrivateKeyFile(ctx, key.path) != 1) {
    unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return fail(key.option, std::string(key.option) + "=" + key.path +
                                  ": the key does not match the certificate rsa_cert_file=" +
                                  cert + key_fix);
    }
    return fail(key.option, std::string(key.option) + "=" + key.path + ": " + KeyProblem() +
                                key_fix);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return fail(key.option, std::string(key.option) + "=" + key.path +
                                ": the key does not match the certificate rsa_cert_file=" + cert +
                                key_fix);
  }
  if (!config.ssl_ciphers.empty() && SSL_CTX_set_cipher_list(ctx, config.ssl_ciphers.c_str()) != 1) {
    ERR_clear_error();
    return fail("ssl_ciphers", "ssl_ciphers=" + config.ssl_ciphers +
                                   ": no cipher OpenSSL knows (leave it unset for the default)");
  }
  if (!config.ca_certs_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, config.ca_certs_file.c_str(), nullptr) != 1) {
      return fail("ca_certs_file", "ca_certs_file=" + config.ca_certs_file + ": " +
                                       CertificateProblem() +
                                       " (name a PEM file of the CA certificates that sign "
                                       "clients' certificates)");
    }
    SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(config.ca_certs_file.c_str()));
  }
  if (config.ssl_request_cert || config.require_cert) {
    int mode = SSL_VERIFY_PEER | (config.require_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx, mode, config.validate_cert ? nullptr : AcceptAnyCertificate);
  }
  // Data connections resume the control connection's session (require_ssl_reuse).
  static const unsigned char kContext[] = "keepftpd";
  SSL_CTX_set_session_id_context(ctx, kContext, sizeof(kContext) - 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
  static std::string sni;
  sni = config.ssl_sni_hostname;
  SSL_CTX_set_tlsext_servername_callback(ctx, CheckSni);
  SSL_CTX_set_tlsext_servername_arg(ctx, &sni);
  if (config.debug_ssl) SSL_CTX_set_info_callback(ctx, LogTlsInfo);
  return ctx;
}

void RunTlsJail(const Config& config, SSL_CTX* ctx, int raw_control, int plain_control,
                int channel) {
  {
    Message msg;
    std::string error;
    ReceiveOutcome r = ReceiveMessage(channel, &msg, &error);
    if (r == ReceiveOutcome::kClosed) _exit(0);  // the session ended without AUTH TLS
    if (r != ReceiveOutcome::kMessage || msg.type != MsgType::kTlsStart || msg.fd.valid() ||
        !msg.body.empty()) {
      Fatal("bad request from the monitor");
    }
  }
  Link control(kControlPending);
  control.ssl = SSL_new(ctx);
  SSL_set_read_ahead(control.ssl, 1);
  control.net.Reset(raw_control);
  control.plain.Reset(plain_control);
  SSL_set_fd(control.ssl, raw_control);
  if (config.implicit_ssl && config.proxy_protocol) {
    // Behind a balancer the PROXY header comes before the ClientHello. This jail only finds
    // where it ends; the pre-login jail reads it from the plaintext end, as on a plain
    // connection, and the monitor checks what it says.
    ProxyHeader header;
    std::string bytes, error;
    switch (ReceiveProxyHeader(raw_control, &header, &bytes, &error)) {
      case ProxyParse::kNeedMore: _exit(0);  // gone
      case ProxyParse::kBad:
        Log(kLogNotice, "connection refused: " + error + " (proxy_protocol)");
        _exit(0);
      case ProxyParse::kOk: break;
    }
    // (At most kMaxProxyHeader bytes: the empty socket pair takes them at once.)
    if (send(plain_control, bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(bytes.size())) {
      _exit(0);
    }
  }
  std::string why;
  if (!Handshake(control.ssl, raw_control, static_cast<int>(config.idle_session_timeout) * 1000,
                 &why)) {
    Log(kLogNotice, "TLS handshake on the control connection failed: " + why);
    _exit(0);
  }
  Log(kLogInfo, std::string("TLS on the control connection: ") + SSL_get_version(control.ssl) +
                    ", " + SSL_get_cipher_name(control.ssl));
  if (config.debug_ssl) LogTlsDetails(control.ssl, "control");
  control.BufferWrites();
  SetNonBlocking(raw_control);
  SetNonBlocking(plain_control);

  std::vector<std::unique_ptr<Link>> data;  // at most one live data connection, plus closing ones
  while (true) {
    control.Pump();
    if (control.failed ||
        (control.plain_eof && control.notify_sent && control.to_net.empty() && control.Flushed()) ||
        (control.net_eof && control.plain_shut)) {
      _exit(0);  // the connection is over
    }
    for (std::size_t i = 0; i < data.size();) {
      data[i]->Pump();
      if (data[i]->Done()) {
        // Tell the monitor how it ended: an upload counts only if it ended cleanly.
        // bit 0: the client's side ended without breaking; bit 1: with its close_notify.
        TlsDataEndReport end;
        if (!data[i]->net_error) end.flags |= TlsDataEndReport::kUnbroken;
        if (data[i]->clean_eof) end.flags |= TlsDataEndReport::kCloseNotify;
        if (!SendMessage(channel, MsgType::kTlsDataEnd, Encode(end)).ok()) _exit(1);
        data.erase(data.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
    std::vector<pollfd> fds;
    fds.push_back({control.net.get(), control.net_events, 0});
    fds.push_back({control.plain.get(), control.plain_events, 0});
    fds.push_back({channel, POLLIN, 0});
    for (const std::unique_ptr<Link>& l : data) {
      fds.push_back({l->net.get(), l->net_events, 0});
      fds.push_back({l->plain.get(), l->plain_events, 0});
    }
    int timeout = data.empty() ? -1 : 1000;
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) _exit(1);
    control.Polled(fds[0].revents, fds[1].revents);
    for (std::size_t i = 0; i < data.size(); ++i) {
      data[i]->Polled(fds[3 + 2 * i].revents, fds[4 + 2 * i].revents);
    }
    if ((fds[2].revents & (POLLHUP | POLLERR)) != 0 && (fds[2].revents & POLLIN) == 0) _exit(0);
    if ((fds[2].revents & POLLIN) == 0) continue;

    // A request from the monitor: a raw data connection to secure.
    Message msg;
    std::string error;
    ReceiveOutcome r = ReceiveMessage(channel, &msg, &error);
    if (r == ReceiveOutcome::kClosed) _exit(0);
    if (r != ReceiveOutcome::kMessage || msg.type != MsgType::kTlsWrap || !msg.fd.valid() ||
        !msg.body.empty()) {
      Fatal("bad request from the monitor");
    }
    // The session sent its 150 before asking for this connection, and clients start the data
    // handshake only after reading it: pass it on first.
    control.Pump();
    auto link = std::make_unique<Link>(kDataPending);
    link->data = true;
    link->net = std::move(msg.fd);
    link->ssl = SSL_new(ctx);
    SSL_set_read_ahead(link->ssl, 1);
    // No session tickets on data connections: a client that only sends (an upload) never
    // reads them, and closing with them unread makes its kernel reset the connection.
    SSL_set_num_tickets(link->ssl, 0);
    SSL_set_fd(link->ssl, link->net.get());
    if (!Handshake(link->ssl, link->net.get(),
                   static_cast<int>(config.data_connection_timeout) * 1000, &why)) {
      Log(kLogNotice, "TLS handshake on a data connection failed: " + why);
      AnswerWrap(channel, false, "TLS handshake on the data connection failed.", -1);
      continue;
    }
    bool resumed = SSL_session_reused(link->ssl) != 0;
    if (config.debug_ssl) LogTlsDetails(link->ssl, "data");
    Log(kLogInfo, std::string("TLS on a data connection: ") + SSL_get_version(link->ssl) +
                      (resumed ? ", session resumed" : ", new session"));
    if (config.require_ssl_reuse && !resumed) {
      AnswerWrap(channel, false,
                 "TLS session of the data connection was not resumed: set the client to "
                 "reuse the control connection's TLS session, or the server's "
                 "require_ssl_reuse=NO.",
                 -1);
      continue;
    }
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      AnswerWrap(channel, false, "Out of resources.", -1);
      continue;
    }
    link->plain.Reset(pair[0]);
    UniqueFd theirs(pair[1]);  // passed on to the monitor, closed here
    for (int end : pair) {
      int size = kPlainBuffer;
      setsockopt(end, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    }
    link->BufferWrites();
    SetNonBlocking(link->net.get());
    SetNonBlocking(link->plain.get());
    data.push_back(std::move(link));
    AnswerWrap(channel, true, "", theirs.get());
  }
}

}  // namespace keepftpd
