// OpenSSL's libssl and libcrypto are not linked into keepftpd: each connection execs keepftpd
// afresh, and the dynamic loader's work on them was about half of a plain session's instructions
// (bench/README.md, profiles), though most sessions never use TLS. They are for TLS only (HASH
// digests are Nettle's, in the session jail: hash_file.h): the TLS jail's process loads them
// before it enters its jail (it builds its context there, from the certificate and key). No
// process loads anything once it is in its jail.
#ifndef KEEPFTPD_SRC_COMMON_OPENSSL_LIBRARY_H_
#define KEEPFTPD_SRC_COMMON_OPENSSL_LIBRARY_H_

#include "status.h"

namespace keepftpd {

// Loads them once (later calls only return the first result). The binary's build resolves
// OpenSSL's functions through it (openssl_dlopen.cc); the test programs link OpenSSL and get a
// version that does nothing (openssl_linked.cc).
Status LoadOpenSsl();

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_OPENSSL_LIBRARY_H_
