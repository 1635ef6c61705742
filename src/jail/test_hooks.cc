// Hidden commands for the privilege audit tests; empty in release builds. Jails only.
#include "test_hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "build_config.h"
#include "ipc.h"
#include "ipc_messages.h"
#include "monitor_client.h"
#include "requests.h"
#include "sockaddr.h"
#include "unique_fd.h"
#include "wire.h"

namespace keepftpd {

bool TestHook(const FtpCommand& cmd, int channel, bool logged_in) {
#if KEEPFTPD_TEST_HOOKS
  if (cmd.verb == "XKFTPDFORBIDDEN") {
    syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
    return true;
  }
  if (cmd.verb == "XKFTPDFORGE") {
    if (cmd.arg == "log") {
      // An emergency whose text is a failed login from another address.
      const LogRequest log{0, "login failed for user \"x\" from 192.0.2.99: forged by a jail"};
      SendMessage(channel, MsgType::kLog, Encode(log));
    } else if (cmd.arg.starts_with("chown ") && logged_in) {
      // An older file of the anonymous account, handed over as if it were an upload.
      UniqueFd file(open(cmd.arg.substr(6).c_str(), O_RDONLY | O_CLOEXEC));
      if (file.valid()) RequestChownUpload(channel, file.get());
    } else if (cmd.arg == "proxy" && !logged_in) {
      // A PROXY header the client never sent (LOCAL: a health check).
      SendMessage(channel, MsgType::kProxyInfo, Encode(ProxyInfoRequest{}));
    } else if (cmd.arg.starts_with("port ") && logged_in) {
      // An active data connection to 127.0.0.2, which is not the client's address.
      const std::uint8_t other[4] = {127, 0, 0, 2};
      const int port = std::atoi(cmd.arg.c_str() + 5);
      if (port <= 0 || port > 65535) return false;
      RequestPortConnect(channel, SockAddr::V4(other, static_cast<std::uint16_t>(port)), false);
    } else if (cmd.arg == "rein" && logged_in) {
      SendMessage(channel, MsgType::kReinit, {});  // the jail itself would answer 502
    } else if (cmd.arg == "bytes" && logged_in) {
      EventRequest e;
      e.priority = 6;
      e.text = "RETR /forged";
      e.command = "RETR";
      e.path = "/forged";
      e.bytes = (std::uint64_t{1} << 63) - 1;
      e.result = "ok";
      e.transfer_type = 'b';
      SendMessage(channel, MsgType::kEvent, Encode(e));
      SendMessage(channel, MsgType::kEvent, Encode(e));
    } else {
      return false;
    }
    return true;  // well-formed and allowed: the monitor goes on
  }
  if (cmd.verb == "XKFTPDREQUEST") {
    if (cmd.arg == "linger") {
      // The jail's end of the channel closed, as when it exits, but the process stays: the
      // monitor must end it, long before this sleep is over.
      close(channel);
      for (int i = 0; i < 30; ++i) poll(nullptr, 0, 1000);
      _exit(0);
    }
    WireWriter w;
    if (cmd.arg == "phase") {
      if (logged_in) {
        w.PutString("anonymous");
        w.PutString("x");
        w.PutU8(0);  // prot_private: a whole LOGIN, wrong only in its phase
        SendMessage(channel, MsgType::kLogin, w.data());
      } else {
        SendMessage(channel, MsgType::kPasvListen, {});
      }
    } else if (cmd.arg == "oversized") {
      w.PutU8(6);
      w.PutString(std::string(kMaxLogText + 1, 'x'));
      SendMessage(channel, MsgType::kLog, w.data());
    } else if (cmd.arg == "fd") {
      w.PutU8(6);
      w.PutString("with a descriptor");
      SendMessage(channel, MsgType::kLog, w.data(), channel);  // any open descriptor will do
    } else if (cmd.arg == "malformed") {
      w.PutU8(6);
      w.PutString("trailing bytes follow");
      w.PutU8(0);
      SendMessage(channel, MsgType::kLog, w.data());
    } else if (cmd.arg == "unknown") {
      SendMessage(channel, static_cast<MsgType>(77), {});
    } else if (cmd.arg == "twice") {
      SendMessage(channel, MsgType::kSeccompReport, Encode(SeccompReport{101}));
      SendMessage(channel, MsgType::kSeccompReport, Encode(SeccompReport{101}));
    } else {
      return false;
    }
    // The monitor must end the connection: wait for it (poll is allowed, pause is not).
    pollfd p = {channel, POLLIN, 0};
    for (int i = 0; i < 30; ++i) poll(&p, 1, 1000);
    return true;
  }
#else
  (void)cmd;
  (void)channel;
  (void)logged_in;
#endif
  return false;
}

}  // namespace keepftpd
