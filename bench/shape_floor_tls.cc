// The floor for a session over TLS with keepftpd's fixed process shape (DESIGN.md): shape_floor
// with a TLS jail that does tls_floor's work. Started exactly like keepftpd (systemd-socket-
// activate --inetd, the connection on fd 0/1), it does what the shape and the client's TLS
// session make the kernel and OpenSSL do, and nothing else: no configuration, no FTP parser, no
// logging, no capability sets. Linked against keepftpd's shared libraries (bench/run.sh passes
// the binary's NEEDED list); OpenSSL is loaded by the TLS jail's process alone, with dlopen, as
// keepftpd's is, so the other processes never map it.
//
//   shape_floor_tls EMPTY_DIR SESSION_ROOT UID GID CERT_FILE KEY_FILE
//
// The seccomp filters are keepftpd's own, as its build compiled them (sandbox_filters.h).
// 1. The monitor (this process, root) forks the TLS jail first, as keepftpd does when every login
//    must come over TLS. The TLS jail loads OpenSSL (RTLD_NOW | RTLD_DEEPBIND, as keepftpd),
//    builds tls_floor's context (OpenSSL's defaults, the certificate, the RSA key read with a
//    decoder told the key type, no session tickets), says so, then chroots into EMPTY_DIR, takes
//    UID/GID, no_new_privs, not dumpable, and loads keepftpd's TLS filter. At the monitor's word
//    it makes the handshake on the connection and relays between it and a socket pair.
// 2. The monitor clones the pre-login jail into new network, PID and IPC namespaces; it enters
//    its jail as shape_floor's does, writes the 220 and tells the monitor at AUTH TLS. Once the
//    TLS jail is ready the monitor tells it to start and hands the pre-login jail the socket
//    pair's plaintext end, which takes the connection's place (dup2); the pre-login jail writes
//    the 234 on the connection, then over TLS answers USER with 331, tells the monitor at PASS
//    and exits.
// 3. From there as shape_floor: the session's monitor, confined as keepftpd's (its filter with the
//    session jail's and the TLS jail's pids patched in), and the session jail, which answers 230,
//    PWD with 257, QUIT with 221 over the plaintext end. When it is gone the TLS jail sends
//    close_notify and exits, and the connection closes.
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

#include "shape_floor.h"

using shape::EnterJail;
using shape::Fail;
using shape::Hear;
using shape::Reap;
using shape::Say;

namespace {

// OpenSSL's functions this program calls, found with dlsym in the TLS jail's process only.
#define SHAPE_OPENSSL(X)                                                                     \
  X(TLS_server_method) X(SSL_CTX_new) X(SSL_CTX_use_certificate_chain_file) X(BIO_new_file) \
  X(BIO_free) X(OSSL_DECODER_CTX_new_for_pkey) X(OSSL_DECODER_from_bio)                     \
  X(OSSL_DECODER_CTX_free) X(SSL_CTX_use_PrivateKey) X(EVP_PKEY_free) X(SSL_CTX_set_options) \
  X(SSL_CTX_ctrl) X(SSL_new) X(SSL_set_fd) X(SSL_accept) X(SSL_read) X(SSL_write)             \
  X(SSL_pending) X(SSL_shutdown)
struct OpenSsl {
#define SHAPE_MEMBER(name) decltype(&::name) name;
  SHAPE_OPENSSL(SHAPE_MEMBER)
#undef SHAPE_MEMBER
} ossl;

void LoadOpenSsl() {
  void* lib = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (lib == nullptr) Fail();
#define SHAPE_RESOLVE(name)                                                   \
  ossl.name = reinterpret_cast<decltype(&::name)>(dlsym(lib, #name));        \
  if (ossl.name == nullptr) Fail();
  SHAPE_OPENSSL(SHAPE_RESOLVE)
#undef SHAPE_RESOLVE
}

// tls_floor's context: the key with a decoder told the key type, no tickets, records read ahead.
SSL_CTX* MakeContext(const char* cert, const char* key_file) {
  SSL_CTX* ctx = ossl.SSL_CTX_new(ossl.TLS_server_method());
  if (ctx == nullptr || ossl.SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) Fail();
  BIO* bio = ossl.BIO_new_file(key_file, "r");
  if (bio == nullptr) Fail();
  EVP_PKEY* key = nullptr;
  OSSL_DECODER_CTX* decoder = ossl.OSSL_DECODER_CTX_new_for_pkey(
      &key, "PEM", nullptr, "RSA", EVP_PKEY_KEYPAIR, nullptr, nullptr);
  if (decoder == nullptr || ossl.OSSL_DECODER_from_bio(decoder, bio) != 1 || key == nullptr)
    Fail();
  ossl.OSSL_DECODER_CTX_free(decoder);
  ossl.BIO_free(bio);
  if (ossl.SSL_CTX_use_PrivateKey(ctx, key) != 1) Fail();
  ossl.EVP_PKEY_free(key);
  ossl.SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  ossl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_READ_AHEAD, 1, nullptr);
  return ctx;
}

// A message of one byte with room for one descriptor (SCM_RIGHTS).
struct OneFd {
  char byte = 'T';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  OneFd() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space;
    msg.msg_controllen = sizeof space;
  }
};

void SendFd(int channel, int fd) {
  OneFd m;
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(channel, &m.msg, 0) != 1) Fail();
}

int ReceiveFd(int channel) {
  OneFd m;
  if (recvmsg(channel, &m.msg, MSG_CMSG_CLOEXEC) != 1) Fail();
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS) Fail();
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

// The TLS jail after the monitor's word: the handshake on the connection (fd 0), then records
// in both directions until the plaintext side ends, then close_notify.
[[noreturn]] void RelayTls(SSL_CTX* ctx, int plain) {
  SSL* ssl = ossl.SSL_new(ctx);
  if (ssl == nullptr || ossl.SSL_set_fd(ssl, 0) != 1 || ossl.SSL_accept(ssl) != 1) Fail();
  char buf[4096];
  for (;;) {
    pollfd p[2] = {{0, POLLIN, 0}, {plain, POLLIN, 0}};
    if (ossl.SSL_pending(ssl) == 0 && poll(p, 2, -1) < 0) Fail();
    if (ossl.SSL_pending(ssl) > 0 || (p[0].revents & (POLLIN | POLLHUP)) != 0) {
      int n = ossl.SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) _exit(0);  // the client is gone
      if (write(plain, buf, static_cast<size_t>(n)) != n) Fail();
    }
    if ((p[1].revents & (POLLIN | POLLHUP)) != 0) {
      ssize_t n = read(plain, buf, sizeof buf);
      if (n <= 0) {  // the session is over
        ossl.SSL_shutdown(ssl);
        _exit(0);
      }
      if (ossl.SSL_write(ssl, buf, static_cast<int>(n)) != n) Fail();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) return 2;
  const char* empty = argv[1];
  const char* session_root = argv[2];
  const auto uid = static_cast<uid_t>(std::atoi(argv[3]));
  const auto gid = static_cast<gid_t>(std::atoi(argv[4]));
  int one = 1;  // every reply goes out at once, as both servers' do
  setsockopt(0, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  // The TLS jail, first: its context is the longest step before the 234.
  int tls_channel[2], pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tls_channel) != 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    Fail();
  pid_t tls_jail = fork();
  if (tls_jail < 0) Fail();
  if (tls_jail == 0) {
    close(tls_channel[0]);
    close(pair[1]);
    LoadOpenSsl();
    SSL_CTX* ctx = MakeContext(argv[5], argv[6]);
    Say(tls_channel[1], "R");  // ready, said before entering the jail, as keepftpd's
    EnterJail(empty, uid, gid, keepftpd::seccomp_bpf::kTls);
    char start;
    if (read(tls_channel[1], &start, 1) != 1) Fail();
    RelayTls(ctx, pair[0]);
  }
  close(tls_channel[1]);
  close(pair[0]);

  int channel[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) Fail();
  long pid = syscall(SYS_clone, CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | SIGCHLD, nullptr,
                     nullptr, nullptr, 0);
  if (pid < 0) Fail();
  if (pid == 0) {  // pre-login jail
    close(channel[0]);
    close(tls_channel[0]);
    close(pair[1]);
    EnterJail(empty, uid, gid, keepftpd::seccomp_bpf::kPrelogin);
    Say(1, "220 ready\r\n");
    if (Hear(0) != "AUTH") Fail();
    Say(channel[1], "A");
    int plain = ReceiveFd(channel[1]);
    Say(1, "234 Proceed with negotiation.\r\n");
    if (dup2(plain, 0) != 0 || dup2(plain, 1) != 1) Fail();
    close(plain);
    Hear(0);
    Say(1, "331 Please specify the password.\r\n");
    Hear(0);
    Say(channel[1], "L");
    _exit(0);
  }
  close(channel[1]);
  char got;
  if (read(channel[0], &got, 1) != 1 || got != 'A') Fail();  // AUTH TLS
  if (read(tls_channel[0], &got, 1) != 1 || got != 'R') Fail();  // the TLS jail is ready
  Say(tls_channel[0], "S");
  SendFd(channel[0], pair[1]);
  // The connection is the TLS jail's now; the plaintext end the protocol jails'.
  if (dup2(pair[1], 0) != 0 || dup2(pair[1], 1) != 1) Fail();
  close(pair[1]);
  if (read(channel[0], &got, 1) != 1 || got != 'L') Fail();  // PASS
  Reap(static_cast<pid_t>(pid));
  close(channel[0]);

  pid_t session_monitor =
      shape::StartSession(empty, session_root, uid, gid, tls_jail, tls_channel[0]);
  close(0);
  close(1);
  Reap(session_monitor);
  Reap(tls_jail);
  return 0;
}
