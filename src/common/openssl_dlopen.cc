// LoadOpenSsl for the keepftpd binary, which is not linked with OpenSSL: libssl (and with it
// libcrypto) is loaded with dlopen, and each OpenSSL function keepftpd calls is defined here, by
// its own name and prototype (the compiler checks them against OpenSSL's headers), as
// dynamic_library.h says. Loaded outside any jail: by the TLS jail's process before it enters its
// jail, and by --check-config.
#include "openssl_library.h"

#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dynamic_library.h"

// Every OpenSSL function keepftpd uses: return type, name, parameters, arguments.
#define KEEPFTPD_OPENSSL_FUNCTIONS(X)                                                          \
  X(long, BIO_ctrl, (BIO * bp, int cmd, long larg, void* parg), (bp, cmd, larg, parg))          \
  X(const BIO_METHOD*, BIO_f_buffer, (void), ())                                                \
  X(int, BIO_free, (BIO * a), (a))                                                              \
  X(long, BIO_int_ctrl, (BIO * bp, int cmd, long larg, int iarg), (bp, cmd, larg, iarg))        \
  X(BIO*, BIO_new, (const BIO_METHOD* type), (type))                                            \
  X(BIO*, BIO_new_file, (const char* filename, const char* mode), (filename, mode))             \
  X(BIO*, BIO_push, (BIO * b, BIO* append), (b, append))                                        \
  X(int, BIO_test_flags, (const BIO* b, int flags), (b, flags))                                 \
  X(int, BIO_up_ref, (BIO * a), (a))                                                            \
  X(void, ERR_clear_error, (void), ())                                                          \
  X(void, ERR_error_string_n, (unsigned long e, char* buf, size_t len), (e, buf, len))         \
  X(unsigned long, ERR_get_error, (void), ())                                                   \
  X(unsigned long, ERR_peek_error, (void), ())                                                  \
  X(unsigned long, ERR_peek_last_error, (void), ())                                             \
  X(int, ERR_pop_to_mark, (void), ())                                                           \
  X(int, ERR_set_mark, (void), ())                                                              \
  X(void, EVP_PKEY_free, (EVP_PKEY * key), (key))                                               \
  X(OSSL_DECODER_CTX*, OSSL_DECODER_CTX_new_for_pkey,                                           \
    (EVP_PKEY * *pkey, const char* input_type, const char* input_struct, const char* keytype,   \
     int selection, OSSL_LIB_CTX* libctx, const char* propquery),                               \
    (pkey, input_type, input_struct, keytype, selection, libctx, propquery))                    \
  X(void, OSSL_DECODER_CTX_free, (OSSL_DECODER_CTX * ctx), (ctx))                               \
  X(int, OSSL_DECODER_from_bio, (OSSL_DECODER_CTX * ctx, BIO* in), (ctx, in))                   \
  X(const char*, OpenSSL_version, (int type), (type))                                           \
  X(const char*, SSL_CIPHER_get_name, (const SSL_CIPHER* c), (c))                               \
  X(long, SSL_CTX_callback_ctrl, (SSL_CTX * ctx, int cmd, void (*fp)(void)), (ctx, cmd, fp))    \
  X(int, SSL_CTX_check_private_key, (const SSL_CTX* ctx), (ctx))                                \
  X(long, SSL_CTX_ctrl, (SSL_CTX * ctx, int cmd, long larg, void* parg),                        \
    (ctx, cmd, larg, parg))                                                                     \
  X(void, SSL_CTX_free, (SSL_CTX * ctx), (ctx))                                                 \
  X(int, SSL_CTX_load_verify_locations, (SSL_CTX * ctx, const char* file, const char* path),    \
    (ctx, file, path))                                                                          \
  X(SSL_CTX*, SSL_CTX_new, (const SSL_METHOD* meth), (meth))                                    \
  X(void, SSL_CTX_set_alpn_select_cb, (SSL_CTX * ctx, SSL_CTX_alpn_select_cb_func cb, void* arg), \
    (ctx, cb, arg))                                                                             \
  X(int, SSL_CTX_set_cipher_list, (SSL_CTX * ctx, const char* str), (ctx, str))                 \
  X(void, SSL_CTX_set_client_CA_list, (SSL_CTX * ctx, STACK_OF(X509_NAME) * list), (ctx, list)) \
  X(void, SSL_CTX_set_info_callback,                                                            \
    (SSL_CTX * ctx, void (*cb)(const SSL* ssl, int type, int val)), (ctx, cb))                  \
  X(uint64_t, SSL_CTX_set_options, (SSL_CTX * ctx, uint64_t op), (ctx, op))                     \
  X(int, SSL_CTX_set_session_id_context,                                                        \
    (SSL_CTX * ctx, const unsigned char* sid, unsigned int len), (ctx, sid, len))               \
  X(void, SSL_CTX_set_verify, (SSL_CTX * ctx, int mode, SSL_verify_cb cb), (ctx, mode, cb))     \
  X(int, SSL_CTX_use_PrivateKey, (SSL_CTX * ctx, EVP_PKEY* pkey), (ctx, pkey))                  \
  X(int, SSL_CTX_use_PrivateKey_file, (SSL_CTX * ctx, const char* file, int type),              \
    (ctx, file, type))                                                                          \
  X(int, SSL_CTX_use_certificate_chain_file, (SSL_CTX * ctx, const char* file), (ctx, file))    \
  X(int, SSL_accept, (SSL * ssl), (ssl))                                                        \
  X(const char*, SSL_alert_desc_string_long, (int value), (value))                              \
  X(const char*, SSL_alert_type_string_long, (int value), (value))                              \
  X(void, SSL_free, (SSL * ssl), (ssl))                                                         \
  X(void, SSL_get0_alpn_selected, (const SSL* ssl, const unsigned char** data, unsigned* len),  \
    (ssl, data, len))                                                                           \
  X(X509*, SSL_get1_peer_certificate, (const SSL* s), (s))                                      \
  X(const SSL_CIPHER*, SSL_get_current_cipher, (const SSL* s), (s))                             \
  X(int, SSL_get_error, (const SSL* s, int ret), (s, ret))                                      \
  X(BIO*, SSL_get_wbio, (const SSL* s), (s))                                                    \
  X(int, SSL_has_pending, (const SSL* s), (s))                                                  \
  X(const char*, SSL_get_servername, (const SSL* s, const int type), (s, type))                 \
  X(const char*, SSL_get_version, (const SSL* s), (s))                                          \
  X(STACK_OF(X509_NAME)*, SSL_load_client_CA_file, (const char* file), (file))                  \
  X(SSL*, SSL_new, (SSL_CTX * ctx), (ctx))                                                      \
  X(int, SSL_read, (SSL * ssl, void* buf, int num), (ssl, buf, num))                            \
  X(int, SSL_session_reused, (const SSL* s), (s))                                               \
  X(int, SSL_set_fd, (SSL * s, int fd), (s, fd))                                                \
  X(void, SSL_set0_wbio, (SSL * s, BIO* wbio), (s, wbio))                                       \
  X(int, SSL_set_num_tickets, (SSL * s, size_t n), (s, n))                                      \
  X(void, SSL_set_read_ahead, (SSL * s, int yes), (s, yes))                                     \
  X(int, SSL_shutdown, (SSL * s), (s))                                                          \
  X(int, SSL_write, (SSL * ssl, const void* buf, int num), (ssl, buf, num))                     \
  X(const SSL_METHOD*, TLS_server_method, (void), ())                                           \
  X(char*, X509_NAME_oneline, (const X509_NAME* a, char* buf, int size), (a, buf, size))        \
  X(void, X509_free, (X509 * a), (a))                                                           \
  X(X509_NAME*, X509_get_subject_name, (const X509* a), (a))

namespace {

struct Functions {
  KEEPFTPD_OPENSSL_FUNCTIONS(KEEPFTPD_DYNAMIC_POINTER)
};
Functions g_openssl;

}  // namespace

#define KEEPFTPD_DEFINE(ret, name, params, args)                                    \
  extern "C" ret name params {                                                      \
    return keepftpd::dynamic::Loaded(g_openssl.name, "OpenSSL", #name) args;        \
  }
KEEPFTPD_OPENSSL_FUNCTIONS(KEEPFTPD_DEFINE)
#undef KEEPFTPD_DEFINE

namespace keepftpd {

Status LoadOpenSsl() {
#define KEEPFTPD_STRINGIFY2(x) #x
#define KEEPFTPD_STRINGIFY(x) KEEPFTPD_STRINGIFY2(x)
  // RTLD_DEEPBIND: libssl's and libcrypto's own symbols (most of their 4,000 look-ups) are
  // found in their own scope first, not after a miss in each of keepftpd's libraries: the
  // loading's symbol look-ups take 2.9M instructions instead of 6.1M, on the way to a TLS
  // session's first reply. (So OpenSSL would not see a malloc put in front of libc's with
  // LD_PRELOAD; it frees only what it allocated. AddressSanitizer refuses the flag.)
#if defined(__SANITIZE_ADDRESS__)
  constexpr int kDeepBind = 0;
#else
  constexpr int kDeepBind = RTLD_DEEPBIND;
#endif
  static const Status loaded = dynamic::Load(
      "libssl.so." KEEPFTPD_STRINGIFY(OPENSSL_VERSION_MAJOR), "OpenSSL", kDeepBind, &g_openssl,
      [](void* handle, const char* file, Functions& table) {
        Status s = Status::Ok();
        KEEPFTPD_OPENSSL_FUNCTIONS(KEEPFTPD_DYNAMIC_RESOLVE)
        return s;
      });
  return loaded;
}

}  // namespace keepftpd
