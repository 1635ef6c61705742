// Status helpers. Shared by every process.
#include "status.h"

#include <cstring>

namespace keepftpd {

Status Status::FromErrno(int err, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  return Status(std::move(msg), err);
}

}  // namespace keepftpd
