// The SOCK_SEQPACKET channel between a jail and the monitor: one message per datagram
// (u16 type + body, body at most kMaxMessageBody), at most one descriptor per message as
// SCM_RIGHTS. Receiving checks truncation and descriptor counts. Shared by the monitor and jails.
#ifndef KEEPFTPD_SRC_COMMON_IPC_H_
#define KEEPFTPD_SRC_COMMON_IPC_H_

#include <string>
#include <string_view>

#include "ipc_messages.h"
#include "status.h"
#include "unique_fd.h"

namespace keepftpd {

struct Message {
  MsgType type = MsgType::kLog;
  std::string body;
  UniqueFd fd;  // the descriptor that came with it, if any
};

// Creates a connected SOCK_SEQPACKET pair (close-on-exec): [0] for the monitor, [1] for the jail.
Status MakeChannel(UniqueFd* monitor_end, UniqueFd* jail_end);

// Sends one message; pass_fd >= 0 rides along as SCM_RIGHTS. Retries EINTR.
Status SendMessage(int channel, MsgType type, std::string_view body, int pass_fd = -1);

enum class ReceiveOutcome { kMessage, kClosed, kError };
// Receives one message, blocking. kClosed on end of stream. kError (with *error set) on a
// truncated datagram, a body over kMaxMessageBody, more than one descriptor, or a message too
// short for its type field; any stray descriptors are closed first.
ReceiveOutcome ReceiveMessage(int channel, Message* out, std::string* error);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_IPC_H_
