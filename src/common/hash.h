// The algorithms of the HASH command (draft-bryan-ftpext-hash): SHA-256, SHA-512, SHA-1, MD5 and
// CRC32, and their names. The jails parse and print them; the session jail computes the digest
// (hash_file.h). Shared.
#ifndef KEEPFTPD_SRC_COMMON_HASH_H_
#define KEEPFTPD_SRC_COMMON_HASH_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "status.h"

namespace keepftpd {

enum class HashAlgorithm { kSha256, kSha512, kSha1, kMd5, kCrc32 };

// "SHA-256", ... as FEAT, OPTS HASH and the 213 reply name them.
std::string_view HashName(HashAlgorithm algorithm);
// Case-insensitive; false for an unknown name.
bool ParseHashName(std::string_view name, HashAlgorithm* out);
// The FEAT line's argument: "SHA-256*;SHA-512;SHA-1;MD5;CRC32" with '*' on the selected one.
std::string HashFeatString(HashAlgorithm selected);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_HASH_H_
