// The physical floor for a session over TLS: a per-connection "server" started exactly like
// keepftpd (systemd-socket-activate --inetd, the connection on fd 0/1) that does what the
// client's TLS session needs, in one process, and nothing else. Linked dynamically with
// OpenSSL (vsftpd links the same libraries, keepftpd loads them with dlopen); no privilege
// separation, no chroot, no configuration, no logging.
//
//   tls_floor CERT_FILE KEY_FILE
//
// It writes the 220, makes a server context with OpenSSL's defaults (which read the system's
// openssl.cnf) and the certificate and RSA key, answers AUTH TLS with 234 and does the
// handshake the client asks for. Over TLS it answers USER with 331, PASS with 230, PWD with
// 257, QUIT with 221 and anything else with 200; after QUIT it sends close_notify and exits.
// What it costs is the price of any such server signing with this key: loading OpenSSL, the
// context, the certificate and key, the handshake with its RSA signature.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string_view>

namespace {

[[noreturn]] void Fail() { _exit(1); }

// An RSA private key from a PEM file, decoded by a decoder told the key type: the cheapest way
// OpenSSL 3 has (SSL_CTX_use_PrivateKey_file tries every decoder it has, about three times the
// instructions), so that no server reads this key for less.
EVP_PKEY* ReadKey(const char* path) {
  BIO* bio = BIO_new_file(path, "r");
  if (bio == nullptr) Fail();
  EVP_PKEY* key = nullptr;
  OSSL_DECODER_CTX* decoder = OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", nullptr, "RSA",
                                                            EVP_PKEY_KEYPAIR, nullptr, nullptr);
  if (decoder == nullptr || OSSL_DECODER_from_bio(decoder, bio) != 1 || key == nullptr) Fail();
  OSSL_DECODER_CTX_free(decoder);
  BIO_free(bio);
  return key;
}

SSL_CTX* MakeContext(const char* cert, const char* key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) Fail();
  EVP_PKEY* key = ReadKey(key_file);
  if (SSL_CTX_use_PrivateKey(ctx, key) != 1) Fail();
  EVP_PKEY_free(key);
  // The session is never resumed: no ticket to make. One read() per record, not two.
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_read_ahead(ctx, 1);
  return ctx;
}

// The connection, plain until Secure() and over TLS after it. The client sends its next
// command only after a reply, so whatever one read brings ends at a line's end.
class Connection {
 public:
  void Say(std::string_view line) {
    int n = ssl_ != nullptr ? SSL_write(ssl_, line.data(), static_cast<int>(line.size()))
                            : static_cast<int>(write(1, line.data(), line.size()));
    if (n != static_cast<int>(line.size())) Fail();
  }

  // Reads one command line and returns its first four bytes.
  std::string_view Hear() {
    size_t got = 0;
    while (got == 0 || buf_[got - 1] != '\n') {
      int room = static_cast<int>(sizeof buf_ - got);
      int n = ssl_ != nullptr ? SSL_read(ssl_, buf_ + got, room)
                              : static_cast<int>(read(0, buf_ + got, static_cast<size_t>(room)));
      if (n <= 0 || (got += static_cast<size_t>(n)) == sizeof buf_) Fail();
    }
    return std::string_view(buf_, got < 4 ? got : 4);
  }

  void Secure(SSL_CTX* ctx) {
    ssl_ = SSL_new(ctx);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, 0) != 1 || SSL_accept(ssl_) != 1) Fail();
  }

  void CloseNotify() { SSL_shutdown(ssl_); }

 private:
  SSL* ssl_ = nullptr;
  char buf_[512];
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  // Every reply goes out at once, as both servers' do (without it the close_notify after the
  // 221 would wait for the client's acknowledgement of the 221, or for the process's end).
  int one = 1;
  setsockopt(0, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Connection c;
  c.Say("220 ready\r\n");
  // Built while the client reads the 220 and sends AUTH TLS.
  SSL_CTX* ctx = MakeContext(argv[1], argv[2]);
  if (c.Hear() != "AUTH") Fail();
  c.Say("234 Proceed with negotiation.\r\n");
  c.Secure(ctx);
  for (std::string_view command = c.Hear(); command != "QUIT"; command = c.Hear()) {
    if (command == "USER") {
      c.Say("331 Please specify the password.\r\n");
    } else if (command == "PASS") {
      c.Say("230 Login successful.\r\n");
    } else if (command == "PWD\r") {
      c.Say("257 \"/\" is the current directory\r\n");
    } else {
      c.Say("200 OK\r\n");
    }
  }
  c.Say("221 Goodbye.\r\n");
  c.CloseNotify();
  _exit(0);  // nothing to clean up: the connection closes as the process ends
}
