// HASH's digests in the session jail: SHA-256, SHA-512, SHA-1 and MD5 with libgcrypt, CRC32 with
// zlib. Session jail only; PrepareHashing loads and initialises libgcrypt in its process before
// it enters the jail (no other process of a session maps it).
#include "hash_file.h"

#include <errno.h>
#include <gcrypt.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <memory>

#include "dynamic_library.h"

// The libgcrypt functions HashFile and PrepareHashing call, through pointers filled by dlopen
// and dlsym (dynamic_library.h): keepftpd is not linked with libgcrypt.
// (Only each entry's name is used: the pointers take the type of gcrypt.h's declaration.)
#define KEEPFTPD_GCRYPT_FUNCTIONS(X)                  \
  X(const char*, gcry_check_version, (), ())          \
  X(gcry_error_t, gcry_control, (), ())               \
  X(const char*, gcry_strerror, (), ())               \
  X(gcry_error_t, gcry_md_open, (), ())               \
  X(void, gcry_md_close, (), ())                      \
  X(void, gcry_md_write, (), ())                      \
  X(unsigned char*, gcry_md_read, (), ())             \
  X(unsigned int, gcry_md_get_algo_dlen, (), ())

namespace keepftpd {

namespace {

struct GcryptFunctions {
  KEEPFTPD_GCRYPT_FUNCTIONS(KEEPFTPD_DYNAMIC_POINTER)
};
GcryptFunctions g_gcry;

// PrepareHashing's result once it ran, else null: HashFile never initialises libgcrypt itself
// (inside the jail it would read files the user may have planted).
const Status* g_prepared = nullptr;

int GcryptAlgorithm(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha256: return GCRY_MD_SHA256;
    case HashAlgorithm::kSha512: return GCRY_MD_SHA512;
    case HashAlgorithm::kSha1: return GCRY_MD_SHA1;
    case HashAlgorithm::kMd5: return GCRY_MD_MD5;
    case HashAlgorithm::kCrc32: return GCRY_MD_NONE;
  }
  return GCRY_MD_NONE;
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

Status GcryptError(std::string_view what, gcry_error_t err) {
  return Status::Error(std::string(what) + ": " + g_gcry.gcry_strerror(err));
}

struct MdClose {
  void operator()(gcry_md_hd_t md) const { g_gcry.gcry_md_close(md); }
};
using MdHandle = std::unique_ptr<gcry_md_handle, MdClose>;

}  // namespace

Status PrepareHashing() {
  static const Status prepared = [] {
    Status loaded = dynamic::Load(
        "libgcrypt.so.20", "libgcrypt", 0, &g_gcry,
        [](void* handle, const char* file, GcryptFunctions& table) {
          Status s = Status::Ok();
          KEEPFTPD_GCRYPT_FUNCTIONS(KEEPFTPD_DYNAMIC_RESOLVE)
          return s;
        });
    if (!loaded.ok()) return loaded;
    if (g_gcry.gcry_check_version(GCRYPT_VERSION) == nullptr) {
      const char* found = g_gcry.gcry_check_version(nullptr);
      return Status::Error(std::string("libgcrypt ") + GCRYPT_VERSION + " or later is needed, " +
                           "found " + (found != nullptr ? found : "none"));
    }
    // Digests only: no secret to keep out of swap, so no secure memory pool (it would mlock).
    if (gcry_error_t err = g_gcry.gcry_control(GCRYCTL_DISABLE_SECMEM, 0); err != 0) {
      return GcryptError("libgcrypt: disabling secure memory", err);
    }
    if (gcry_error_t err = g_gcry.gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0); err != 0) {
      return GcryptError("libgcrypt: finishing its initialisation", err);
    }
    return Status::Ok();
  }();
  g_prepared = &prepared;
  return prepared;
}

Result<std::string> HashFile(int fd, HashAlgorithm algorithm, std::uint64_t* size) {
  *size = 0;
  const int md_algorithm = GcryptAlgorithm(algorithm);
  // CRC32 is zlib's: no libgcrypt object for it.
  MdHandle md;
  if (md_algorithm != GCRY_MD_NONE) {
    if (g_prepared == nullptr) return Status::Error("libgcrypt was not prepared (PrepareHashing)");
    if (!g_prepared->ok()) return *g_prepared;
    gcry_md_hd_t handle = nullptr;
    gcry_error_t err = g_gcry.gcry_md_open(&handle, md_algorithm, 0);
    if (err != 0) return GcryptError(std::string(HashName(algorithm)), err);
    md.reset(handle);
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  std::string buf(1 << 16, '\0');
  off_t pos = 0;
  while (true) {
    ssize_t n = pread(fd, buf.data(), buf.size(), pos);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read");
    if (n == 0) break;
    pos += n;
    *size += static_cast<std::uint64_t>(n);
    if (md != nullptr) {
      g_gcry.gcry_md_write(md.get(), buf.data(), static_cast<std::size_t>(n));
    } else {
      crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(n));
    }
  }
  if (md == nullptr) {
    char text[16];
    std::snprintf(text, sizeof(text), "%08lx", static_cast<unsigned long>(crc));
    return std::string(text);
  }
  const unsigned char* digest = g_gcry.gcry_md_read(md.get(), md_algorithm);
  if (digest == nullptr) return Status::Error(std::string(HashName(algorithm)) + ": no digest");
  return Hex(digest, g_gcry.gcry_md_get_algo_dlen(md_algorithm));
}

}  // namespace keepftpd
