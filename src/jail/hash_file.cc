// HASH_FILE: the digest of a whole file whose descriptor the session jail sent. The session's
// monitor only (or a child of it that dropped its capability); OpenSSL is loaded at the first
// digest that needs it, CRC32 is zlib's.
#include "hash_file.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <memory>

#include "openssl_library.h"

namespace keepftpd {

namespace {

const EVP_MD* Digest(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha256: return EVP_sha256();
    case HashAlgorithm::kSha512: return EVP_sha512();
    case HashAlgorithm::kSha1: return EVP_sha1();
    case HashAlgorithm::kMd5: return EVP_md5();
    case HashAlgorithm::kCrc32: return nullptr;
  }
  return nullptr;
}

std::string Hex(const unsigned char* bytes, std::size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

}  // namespace

Result<std::string> HashFile(int fd, HashAlgorithm algorithm, std::uint64_t* size) {
  *size = 0;
  if (algorithm != HashAlgorithm::kCrc32) {
    Status loaded = LoadOpenSsl();
    if (!loaded.ok()) return loaded;
    static const bool initialised =
        OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) == 1;  // no openssl.cnf
    (void)initialised;
  }
  std::string buf(1 << 16, '\0');
  const EVP_MD* md = Digest(algorithm);
  // CRC32 is zlib's: no OpenSSL object for it (OpenSSL may not be loaded).
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(md != nullptr ? EVP_MD_CTX_new() : nullptr,
                                                         EVP_MD_CTX_free);
  uLong crc = crc32(0L, Z_NULL, 0);
  if (md != nullptr && (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1)) {
    return Status::Error("digest initialisation failed");
  }
  off_t pos = 0;
  while (true) {
    ssize_t n = pread(fd, buf.data(), buf.size(), pos);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read");
    if (n == 0) break;
    pos += n;
    *size += static_cast<std::uint64_t>(n);
    if (md != nullptr) {
      EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
    } else {
      crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(n));
    }
  }
  if (md == nullptr) {
    char text[16];
    std::snprintf(text, sizeof(text), "%08lx", static_cast<unsigned long>(crc));
    return std::string(text);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) return Status::Error("digest failed");
  return Hex(digest, len);
}

}  // namespace keepftpd
