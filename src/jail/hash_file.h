// HASH's digests: a whole file's checksum, computed in the session jail from a file it opened
// itself, with Nettle (SHA-256, SHA-512, SHA-1, MD5) and zlib (CRC32). Nettle is linked into the
// binary: nothing is loaded or initialised at a login, and no file is read but the one hashed.
#ifndef KEEPFTPD_SRC_JAIL_HASH_FILE_H_
#define KEEPFTPD_SRC_JAIL_HASH_FILE_H_

#include <cstdint>
#include <string>

#include "hash.h"
#include "status.h"

namespace keepftpd {

// Reads fd from its start to its end (pread: its offset does not move); lower-case hex digest.
Result<std::string> HashFile(int fd, HashAlgorithm algorithm, std::uint64_t* size);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_HASH_FILE_H_
