// HASH_FILE in the session's monitor: a whole file's checksum, computed from a descriptor the
// session jail opened with its own rights. Monitor only.
#ifndef KEEPFTPD_SRC_MONITOR_HASH_FILE_H_
#define KEEPFTPD_SRC_MONITOR_HASH_FILE_H_

#include <cstdint>
#include <string>

#include "hash.h"
#include "status.h"

namespace keepftpd {

// Reads fd from its start to its end (pread: its offset does not move); lower-case hex digest.
Result<std::string> HashFile(int fd, HashAlgorithm algorithm, std::uint64_t* size);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_MONITOR_HASH_FILE_H_
