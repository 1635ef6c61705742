// HASH's digests: a whole file's checksum, computed in the session jail from a file it opened
// itself, with libgcrypt and zlib for CRC32. HashFile in the session jail only; PrepareHashing
// in the monitor once it accepts a login (the session's processes inherit the result), and
// again in the session jail's process before it enters the jail.
#ifndef KEEPFTPD_SRC_JAIL_HASH_FILE_H_
#define KEEPFTPD_SRC_JAIL_HASH_FILE_H_

#include <cstdint>
#include <string>

#include "hash.h"
#include "status.h"

namespace keepftpd {

// Loads libgcrypt (dlopen: a connection that never logs in never needs it) and initialises it
// (version check, no secure memory); once per process (a forked child inherits the result),
// later calls return the first result. Call it before any chroot and seccomp filter:
// libgcrypt's first initialisation reads /proc/sys/crypto/fips_enabled and
// /etc/gcrypt/hwf.deny, which a user could plant inside the jail.
Status PrepareHashing();

// Reads fd from its start to its end (pread: its offset does not move); lower-case hex digest.
// Never initialises libgcrypt: without a successful PrepareHashing only CRC32 works.
Result<std::string> HashFile(int fd, HashAlgorithm algorithm, std::uint64_t* size);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_HASH_FILE_H_
