// HASH's digests in the session jail: SHA-256, SHA-512, SHA-1 and MD5 with Nettle, CRC32 with
// zlib. Nettle is a static part of the binary, so a session that never sends HASH pays for it
// with no mapping, relocation or initialisation (bench/README.md, "HASH with Nettle"); its
// choice of code for the CPU (SHA extensions) is made once at the exec, before any jail.
#include "hash_file.h"

#include <errno.h>
#include <nettle/md5.h>
#include <nettle/nettle-meta.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>

#include "strutil.h"

namespace keepftpd {

namespace {

// Nettle's description of algorithm (its context size, init, update, digest); null for CRC32.
const nettle_hash* NettleHash(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha256: return &nettle_sha256;
    case HashAlgorithm::kSha512: return &nettle_sha512;
    case HashAlgorithm::kSha1: return &nettle_sha1;
    case HashAlgorithm::kMd5: return &nettle_md5;
    case HashAlgorithm::kCrc32: return nullptr;
  }
  return nullptr;
}

// Room for the context of any algorithm NettleHash returns.
union HashContext {
  sha256_ctx sha256;
  sha512_ctx sha512;
  sha1_ctx sha1;
  md5_ctx md5;
};

}  // namespace

Result<std::string> HashFile(int fd, HashAlgorithm algorithm, std::uint64_t* size) {
  *size = 0;
  const nettle_hash* hash = NettleHash(algorithm);
  HashContext context;
  if (hash != nullptr) hash->init(&context);
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
    if (hash != nullptr) {
      hash->update(&context, static_cast<std::size_t>(n),
                   reinterpret_cast<const std::uint8_t*>(buf.data()));
    } else {
      crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(n));
    }
  }
  if (hash == nullptr) {
    char text[16];
    std::snprintf(text, sizeof(text), "%08lx", static_cast<unsigned long>(crc));
    return std::string(text);
  }
  std::uint8_t digest[SHA512_DIGEST_SIZE];
  hash->digest(&context, hash->digest_size, digest);
  return LowerHex(std::string_view(reinterpret_cast<const char*>(digest), hash->digest_size));
}

}  // namespace keepftpd
