// Tests for src/common/openssl_dlopen.cc and src/monitor/pam_dlopen.cc, the keepftpd binary's
// run-time loaders (LoadOpenSsl, LoadPam) and their trampolines. Unlike the other unit-test
// programs, this one is not linked with OpenSSL or libpam (tests/unit/meson.build): like the
// binary, it reaches them only through the loaders. Checked: neither library is in the program
// before its loader runs; each loader succeeds and opens its library once, however often it is
// called; the trampolines then reach the real functions (an SSL_CTX and an SSL, a PAM handle for
// a service that falls back to "other", nobody authenticated); a trampoline called before
// loading stops the program, naming itself; and dynamic_library.h's Load reports a missing
// library or function by name, leaving the table as it was.
#include <dlfcn.h>
#include <doctest/doctest.h>
#include <link.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "dynamic_library.h"
#include "openssl_library.h"
#include "pam_library.h"
#include "test_support.h"
#include "unique_fd.h"

namespace {

// Every dlopen of libssl or libpam this program makes (RTLD_NOLOAD look-ups aside): the loaders'
// calls to dlopen bind to this definition, which counts them and calls the next one (libc's, or
// AddressSanitizer's in front of it).
std::atomic<int> g_libssl_opens{0};
std::atomic<int> g_libpam_opens{0};

}  // namespace

extern "C" void* dlopen(const char* file, int mode) noexcept {
  using Real = void* (*)(const char*, int);
  static const Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "dlopen"));
  if (file != nullptr && (mode & RTLD_NOLOAD) == 0) {
    const std::string_view name(file);
    if (name.starts_with("libssl.so")) ++g_libssl_opens;
    if (name.starts_with("libpam.so")) ++g_libpam_opens;
  }
  return real(file, mode);
}

namespace keepftpd {
namespace {

// Whether an object whose file name starts with `prefix` ("libssl.so") is in the program.
bool Mapped(std::string_view prefix) {
  struct Search {
    std::string_view prefix;
    bool found = false;
  } search{prefix};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto* s = static_cast<Search*>(data);
        std::string_view path = info->dlpi_name != nullptr ? info->dlpi_name : "";
        const std::size_t slash = path.rfind('/');
        if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
        if (path.starts_with(s->prefix)) s->found = true;
        return 0;
      },
      &search);
  return search.found;
}

// Taken before main, so before any test case could have loaded anything.
const bool g_libssl_at_start = Mapped("libssl.so");
const bool g_libcrypto_at_start = Mapped("libcrypto.so");
const bool g_libpam_at_start = Mapped("libpam.so");

// The first of the file: with doctest's default order it runs before any loader, so the child
// calls the real trampoline (if another order loaded libpam first, the same check, by hand).
TEST_CASE("A trampoline called before its library is loaded stops the program, naming itself") {
  int fds[2];
  CHECK_OR_RETURN(pipe(fds) == 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  const pid_t pid = fork();
  CHECK_OR_RETURN(pid >= 0);
  if (pid == 0) {
    signal(SIGABRT, SIG_DFL);  // not doctest's handlers, which would report a crash
    signal(SIGSEGV, SIG_DFL);
    dup2(write_end.get(), STDERR_FILENO);
    if (!Mapped("libpam.so")) {
      (void)pam_strerror(nullptr, PAM_SUCCESS);
    } else {
      (void)dynamic::Loaded<decltype(&::pam_strerror)>(nullptr, "Linux-PAM", "pam_strerror");
    }
    _exit(0);  // not reached unless the call returned
  }
  write_end.Reset();
  const std::string said = test::ReadAll(read_end.get());
  int status = 0;
  CHECK_OR_RETURN(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(said == "keepftpd: pam_strerror called before Linux-PAM was loaded\n");
}

TEST_CASE("OpenSSL and Linux-PAM are in the program only once their loaders ran, and stay local") {
  CHECK_MESSAGE(!g_libssl_at_start, "libssl is linked into the test program");
  CHECK_MESSAGE(!g_libcrypto_at_start, "libcrypto is linked into the test program");
  CHECK_MESSAGE(!g_libpam_at_start, "libpam is linked into the test program");
  CHECK_OR_RETURN(LoadOpenSsl().ok());
  CHECK_OR_RETURN(LoadPam().ok());
  CHECK(Mapped("libssl.so"));
  CHECK(Mapped("libcrypto.so"));
  CHECK(Mapped("libpam.so"));
  // Loaded RTLD_LOCAL, and the program exports none of its trampolines: a name is found only
  // through the library's own handle, so the libraries' (and PAM modules') calls stay inside them.
  for (const char* name : {"SSL_CTX_new", "EVP_sha256", "ERR_get_error", "pam_start",
                           "pam_get_item"}) {
    const std::string function = name;
    CAPTURE(function);
    CHECK(dlsym(RTLD_DEFAULT, name) == nullptr);
  }
}

TEST_CASE("LoadOpenSsl succeeds, and later calls return its result without loading libssl again") {
  const Status first = LoadOpenSsl();
  CHECK_MESSAGE(first.ok(), first.message());
  if (!first.ok()) return;  // a trampoline would stop the program
  const int opens = g_libssl_opens.load();
  const Status second = LoadOpenSsl();
  const Status third = LoadOpenSsl();
  CHECK(second.ok() == first.ok());
  CHECK(third.ok() == first.ok());
  CHECK(second.message() == first.message());
  CHECK(g_libssl_opens.load() == opens);
  CHECK(opens == 1);  // whichever test case loaded it, once in the whole program
  const char* version = OpenSSL_version(OPENSSL_VERSION);
  CHECK_OR_RETURN(version != nullptr);
  CHECK(std::string_view(version).starts_with("OpenSSL 3"));
}

TEST_CASE("After LoadOpenSsl, an SSL_CTX and an SSL can be made, configured and freed") {
  CHECK_OR_RETURN(LoadOpenSsl().ok());
  ERR_clear_error();
  const SSL_METHOD* method = TLS_server_method();
  CHECK_OR_RETURN(method != nullptr);
  SSL_CTX* ctx = SSL_CTX_new(method);
  CHECK_OR_RETURN(ctx != nullptr);
  CHECK((SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION) & SSL_OP_NO_RENEGOTIATION) != 0);
  CHECK(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1);  // SSL_CTX_ctrl
  CHECK(SSL_CTX_set_cipher_list(ctx, "HIGH:!aNULL") == 1);
  const unsigned char sid[] = "keepftpd";
  CHECK(SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) == 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);

  // A failure, and OpenSSL's error queue through the ERR_ trampolines.
  CHECK(SSL_CTX_set_cipher_list(ctx, "KEEPFTPD-NO-SUCH-CIPHER") == 0);
  CHECK(ERR_peek_last_error() != 0);
  CHECK(ERR_set_mark() == 1);  // 1 only on a queue that is not empty
  CHECK(ERR_pop_to_mark() == 1);
  const unsigned long err = ERR_get_error();
  CHECK(err != 0);
  char text[256] = {};
  ERR_error_string_n(err, text, sizeof(text));
  CHECK(std::string_view(text).find("no cipher match") != std::string_view::npos);
  ERR_clear_error();
  CHECK(ERR_peek_error() == 0);

  SSL* ssl = SSL_new(ctx);
  CHECK(ssl != nullptr);
  if (ssl != nullptr) {
    CHECK(SSL_set_num_tickets(ssl, 0) == 1);
    CHECK(SSL_get_version(ssl) != nullptr);
    CHECK(SSL_get_current_cipher(ssl) == nullptr);  // no handshake yet
    CHECK(SSL_has_pending(ssl) == 0);
    SSL_free(ssl);
  }
  SSL_CTX_free(ctx);

  // A BIO and a decoder context, made and freed.
  BIO* buffer = BIO_new(BIO_f_buffer());
  CHECK(buffer != nullptr);
  if (buffer != nullptr) CHECK(BIO_free(buffer) == 1);
  EVP_PKEY* key = nullptr;
  OSSL_DECODER_CTX* decoder = OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", nullptr, "RSA",
                                                            EVP_PKEY_KEYPAIR, nullptr, nullptr);
  CHECK(decoder != nullptr);
  OSSL_DECODER_CTX_free(decoder);
  CHECK(key == nullptr);
}

// Answers nothing: nobody is authenticated here.
int RefuseConversation(int, const pam_message**, pam_response**, void*) { return PAM_CONV_ERR; }

TEST_CASE("LoadPam succeeds once, and pam_start and pam_end work for a service through it") {
  const Status first = LoadPam();
  CHECK_MESSAGE(first.ok(), first.message());
  if (!first.ok()) return;  // a trampoline would stop the program
  const int opens = g_libpam_opens.load();
  CHECK(LoadPam().ok());
  CHECK(LoadPam().message() == first.message());
  CHECK(g_libpam_opens.load() == opens);
  CHECK(opens == 1);

  // No such file in /etc/pam.d: Linux-PAM uses "other" for it.
  const char* service = "keepftpd-unit-test-no-such-service";
  const pam_conv conv = {RefuseConversation, nullptr};
  pam_handle_t* pamh = nullptr;
  const int started = pam_start(service, "nobody", &conv, &pamh);
  CHECK_MESSAGE(started == PAM_SUCCESS, pam_strerror(pamh, started));
  CHECK_OR_RETURN(pamh != nullptr);
  const void* item = nullptr;
  CHECK(pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS);
  CHECK(item != nullptr);
  if (item != nullptr) CHECK(std::string_view(static_cast<const char*>(item)) == service);
  CHECK(pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS);
  if (item != nullptr) CHECK(std::string_view(static_cast<const char*>(item)) == "nobody");
  CHECK(pam_set_item(pamh, PAM_RHOST, "192.0.2.1") == PAM_SUCCESS);
  CHECK(pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS);
  if (item != nullptr) CHECK(std::string_view(static_cast<const char*>(item)) == "192.0.2.1");
  const char* text = pam_strerror(pamh, PAM_AUTH_ERR);
  CHECK(text != nullptr);
  if (text != nullptr) CHECK(std::strlen(text) > 0);
  CHECK(pam_end(pamh, PAM_SUCCESS) == PAM_SUCCESS);
}

// A table for dynamic::Load, as the loaders make theirs.
struct LibcTable {
  decltype(&::getpid) getpid = nullptr;
  decltype(&::getppid) getppid = nullptr;
};

TEST_CASE("A missing library or function is an error naming it, and leaves the table as it was") {
  LibcTable table;
  Status s = dynamic::Load("libkeepftpd-no-such-library.so.0", "Nothing", 0, &table,
                           [](void*, const char*, LibcTable&) { return Status::Ok(); });
  CHECK_FALSE(s.ok());
  CHECK(s.message().starts_with("cannot load Nothing: libkeepftpd-no-such-library.so.0: "));
  CHECK((table.getpid == nullptr));

  // getpid is found, then a name libc does not have: the table stays empty.
  s = dynamic::Load("libc.so.6", "libc", 0, &table,
                    [](void* handle, const char* file, LibcTable& t) {
                      Status r = dynamic::Resolve(handle, file, "getpid", &t.getpid);
                      if (r.ok()) r = dynamic::Resolve(handle, file, "keepftpd_none", &t.getppid);
                      return r;
                    });
  CHECK_FALSE(s.ok());
  CHECK(s.message() == "libc.so.6 has no keepftpd_none");
  CHECK((table.getpid == nullptr && table.getppid == nullptr));

  // And when every one is found, the table gets them all.
  s = dynamic::Load("libc.so.6", "libc", 0, &table,
                    [](void* handle, const char* file, LibcTable& t) {
                      Status r = dynamic::Resolve(handle, file, "getpid", &t.getpid);
                      if (r.ok()) r = dynamic::Resolve(handle, file, "getppid", &t.getppid);
                      return r;
                    });
  CHECK(s.ok());
  CHECK_OR_RETURN(table.getpid != nullptr && table.getppid != nullptr);
  CHECK(table.getpid() == getpid());
  CHECK(table.getppid() == getppid());
}

}  // namespace
}  // namespace keepftpd
