// LoadOpenSsl for programs linked with OpenSSL (the unit tests and fuzz targets).
#include "openssl_library.h"

namespace keepftpd {

Status LoadOpenSsl() { return Status::Ok(); }

}  // namespace keepftpd
