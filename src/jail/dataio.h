// Data connection transfers in the session jail: a file (sendfile, or read and convert for ASCII
// mode) or a listing buffer, sent on a non-blocking data socket while the control connection is
// watched for ABOR, with data_connection_timeout applied to every stall. Session jail only.
#ifndef KEEPFTPD_SRC_JAIL_DATAIO_H_
#define KEEPFTPD_SRC_JAIL_DATAIO_H_

#include <cstdint>
#include <string_view>

#include "cmdio.h"

namespace keepftpd {

enum class TransferResult {
  kOk,             // everything sent
  kAborted,        // the client sent ABOR (consumed from the control connection)
  kTimeout,        // no progress for data_connection_timeout seconds
  kDataError,      // the data connection failed (client closed it, reset)
  kControlClosed,  // the control connection went away
  kFileError,      // reading or writing the file failed (see file_errno)
};

struct TransferOptions {
  unsigned timeout_seconds = 300;  // 0: no timeout
  bool ascii = false;              // downloads: LF to CRLF; uploads: CRLF to LF
  bool use_sendfile = true;        // binary downloads: sendfile(2), or read and write
  // anon_max_rate / local_max_rate: bytes per second for SendFile and ReceiveFile (0: no
  // limit). The transfer is paced from its first byte: after any chunk, no more has gone than
  // max_rate times the time since the start, plus that one chunk (a twentieth of a second's
  // worth). The waits watch the control connection for ABOR like any other.
  std::uint64_t max_rate = 0;
};

// *sent: the bytes that went out on the data connection (after the ASCII conversion), whatever
// the result. An ABOR is seen while the data connection is not ready; one that comes before a
// short transfer has gone out is read as the next command (225: no transfer to abort).
TransferResult SendBuffer(int data_fd, ControlConnection& ctrl, std::string_view data,
                          const TransferOptions& options, std::uint64_t* sent);

// Sends file_fd from offset to its end; *sent as for SendBuffer.
TransferResult SendFile(int data_fd, ControlConnection& ctrl, int file_fd, std::uint64_t offset,
                        const TransferOptions& options, std::uint64_t* sent);

// Receives the data connection to its end into file_fd (written at its current offset). On
// kFileError, *file_errno says why (ENOSPC, EDQUOT, ...).
TransferResult ReceiveFile(int data_fd, ControlConnection& ctrl, int file_fd,
                           const TransferOptions& options, std::uint64_t* received,
                           int* file_errno);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_DATAIO_H_
