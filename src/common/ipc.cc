// SOCK_SEQPACKET message channel with descriptor passing. Shared by the monitor and jails.
#include "ipc.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>

namespace keepftpd {

const char* MsgTypeName(MsgType type) {
  switch (type) {
    case MsgType::kLogin: return "LOGIN";
    case MsgType::kLog: return "LOG";
    case MsgType::kPasvListen: return "PASV_LISTEN";
    case MsgType::kDataAccept: return "DATA_ACCEPT";
    case MsgType::kPortConnect: return "PORT_CONNECT";
    case MsgType::kSeccompReport: return "SECCOMP_REPORT";
    case MsgType::kReinit: return "REINIT";
    case MsgType::kChownUpload: return "CHOWN_UPLOAD";
    case MsgType::kChownResult: return "CHOWN_RESULT";
    case MsgType::kStartTls: return "START_TLS";
    case MsgType::kTlsData: return "TLS_DATA";
    case MsgType::kTlsWrap: return "TLS_WRAP";
    case MsgType::kTlsWrapResult: return "TLS_WRAP_RESULT";
    case MsgType::kStartTlsResult: return "START_TLS_RESULT";
    case MsgType::kTlsDataStatus: return "TLS_DATA_STATUS";
    case MsgType::kTlsDataEnd: return "TLS_DATA_END";
    case MsgType::kTlsReady: return "TLS_READY";
    case MsgType::kTlsStart: return "TLS_START";
    case MsgType::kEvent: return "EVENT";
    case MsgType::kDataCancel: return "DATA_CANCEL";
    case MsgType::kProxyInfo: return "PROXY_INFO";
    case MsgType::kProxyInfoResult: return "PROXY_INFO_RESULT";
    case MsgType::kTlsDataStatusResult: return "TLS_DATA_STATUS_RESULT";
    case MsgType::kLoginResult: return "LOGIN_RESULT";
    case MsgType::kPasvListenResult: return "PASV_LISTEN_RESULT";
    case MsgType::kDataResult: return "DATA_RESULT";
  }
  return "UNKNOWN";
}

Status MakeChannel(UniqueFd* monitor_end, UniqueFd* jail_end) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return Status::FromErrno(errno, "socketpair(SOCK_SEQPACKET)");
  }
  monitor_end->Reset(fds[0]);
  jail_end->Reset(fds[1]);
  return Status::Ok();
}

Status SendMessage(int channel, MsgType type, std::string_view body, int pass_fd) {
  if (body.size() > kMaxMessageBody) return Status::Error("message body too large");
  char header[2];
  auto t = static_cast<std::uint16_t>(type);
  header[0] = static_cast<char>(t & 0xff);
  header[1] = static_cast<char>(t >> 8);
  iovec iov[2];
  iov[0].iov_base = header;
  iov[0].iov_len = sizeof(header);
  iov[1].iov_base = const_cast<char*>(body.data());
  iov[1].iov_len = body.size();
  msghdr msg = {};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    std::memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(channel, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::FromErrno(errno, "sendmsg to monitor channel");
  return Status::Ok();
}

ReceiveOutcome ReceiveMessage(int channel, Message* out, std::string* error) {
  // One byte more than the largest valid message, so that an oversized one shows as MSG_TRUNC
  // even on kernels that report the real length.
  static char buffer[2 + kMaxMessageBody + 1];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  iovec iov = {buffer, sizeof(buffer)};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(channel, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == ECONNRESET) return ReceiveOutcome::kClosed;
    *error = std::string("recvmsg: ") + std::strerror(errno);
    return ReceiveOutcome::kError;
  }
  // Collect every descriptor first so that none leaks whatever else is wrong (an empty datagram
  // may carry one too).
  int fd_count = 0;
  UniqueFd received;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (fd_count++ == 0) {
        received.Reset(fd);
      } else {
        UniqueFd stray(fd);  // closed at once: only one descriptor may come
      }
    }
  }
  // On SOCK_SEQPACKET an empty datagram reads as 0 bytes, like the end of the stream. The end
  // reads 0 again; an empty datagram (which no sender of ours makes) leaves the channel open,
  // and is an error like any other message too short for its type.
  if (n == 0 && fd_count == 0) {
    char probe;
    const ssize_t again = recv(channel, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (again == 0 || (again < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      return ReceiveOutcome::kClosed;
    }
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    *error = "truncated message";
    return ReceiveOutcome::kError;
  }
  if (fd_count > 1) {
    *error = "more than one descriptor in a message";
    return ReceiveOutcome::kError;
  }
  if (n < 2 || static_cast<std::size_t>(n) > 2 + kMaxMessageBody) {
    *error = "message of bad size " + std::to_string(n);
    return ReceiveOutcome::kError;
  }
  out->type = static_cast<MsgType>(static_cast<std::uint8_t>(buffer[0]) |
                                   (static_cast<std::uint8_t>(buffer[1]) << 8));
  out->body.assign(buffer + 2, static_cast<std::size_t>(n) - 2);
  out->fd = std::move(received);
  return ReceiveOutcome::kMessage;
}

}  // namespace keepftpd
