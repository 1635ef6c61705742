// HASH's digests: a whole file's checksum, computed in the session jail from a file it opened
// itself, with libgcrypt and zlib for CRC32. Session jail only, and PrepareHashing in its process
// before it enters the jail.
#ifndef KEEPFTPD_SRC_JAIL_HASH_FILE_H_
#define KEEPFTPD_SRC_JAIL_HASH_FILE_H_

#include <cstdint>
#include <string>

#include "hash.h"
#include "status.h"

namespace keepftpd {

// Loads libgcrypt (dlopen: no other process needs it) and initialises it (version check, no
// secure memory); once per process, later calls return the first result. Call it before the
// chroot and the seccomp filter: libgcrypt's first initialisation reads
// /proc/sys/crypto/fips_enabled and /etc/gcrypt/hwf.deny, which a user could plant inside the
// jail.
Status PrepareHashing();

// Reads fd from its start to its end (pread: its offset does not move); lower-case hex digest.
// Never initialises libgcrypt: without a successful PrepareHashing only CRC32 works.
Result<std::string> HashFile(int fd, HashAlgorithm algorithm, std::uint64_t* size);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_HASH_FILE_H_
