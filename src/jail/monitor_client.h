// The jail side of the request protocol: one function per request, each encoding its message,
// sending it and waiting for the one answer type it expects. Jail code never builds a message
// by hand. A malformed or unexpected answer from the monitor is fatal. Jails only.
#ifndef KEEPFTPD_SRC_JAIL_MONITOR_CLIENT_H_
#define KEEPFTPD_SRC_JAIL_MONITOR_CLIENT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "cmdio.h"
#include "proxy_protocol.h"
#include "requests.h"
#include "sockaddr.h"
#include "unique_fd.h"

namespace keepftpd {

LoginResult RequestLogin(int channel, std::string_view user, std::string_view password,
                         bool prot_private);
// Pre-login jail: AUTH TLS. On ok the jail replies 234 on the raw connection, then puts
// plain_control in its place: a TLS jail relays it from then on.
struct StartTlsAnswer {
  bool ok = false;
  UniqueFd plain_control;
  std::string message;
};
StartTlsAnswer RequestStartTls(int channel);

PasvListenResult RequestPasvListen(int channel);

// Pre-login jail, proxy_protocol: what the balancer's header said. false: the connection ends,
// after *reply (if not empty) is sent.
bool RequestProxyInfo(int channel, const ProxyHeader& header, std::string* reply);

struct DataAnswer {
  bool ok = false;
  UniqueFd fd;          // connected, non-blocking data socket
  std::string message;  // why not, for the 425 reply
};
// Session jail: accept the data connection on the passive listener (within accept_timeout).
// tls: for PROT P; the answer then carries no descriptor (the monitor keeps the raw
// connection), and RequestTlsData, after the 150 reply, returns the plaintext end.
// While the monitor waits, the control connection is watched: an ABOR, or the client closing
// it, cancels the wait (the ABOR stays unread for the command loop to answer).
DataAnswer RequestDataAccept(int channel, bool tls, ControlConnection& ctrl);
DataAnswer RequestTlsData(int channel);
// After a transfer over TLS, once the session closed its end: did it end well enough (see
// strict_ssl_read_eof, strict_ssl_write_shutdown)?
// *close_notify (when asked): whether the client ended the stream with a TLS close_notify.
bool RequestTlsDataStatus(int channel, bool upload, bool* close_notify = nullptr);
// Session jail: connect to the client's PORT/EPRT address (within connect_timeout).
DataAnswer RequestPortConnect(int channel, const SockAddr& target, bool tls);
// Session jail: chown_uploads. The monitor gives the anonymous upload open on fd to
// chown_username with chown_upload_mode; false when it refused (the upload stays as it is).
bool RequestChownUpload(int channel, int fd);
// Session jail: REIN. The jail must exit at once; a new pre-login jail greets the client.
void RequestReinit(int channel);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_MONITOR_CLIENT_H_
