// One function per monitor request. Jails only.
#include "monitor_client.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>

#include "ftp_command.h"
#include "ipc.h"
#include "log.h"
#include "requests.h"

namespace keepftpd {

namespace {

// Sends a request and receives the answer, which must be of type expected.
Message Call(int channel, MsgType request, std::string_view body, MsgType expected,
             int pass_fd = -1) {
  Status s = SendMessage(channel, request, body, pass_fd);
  if (!s.ok()) Fatal("monitor request " + std::string(MsgTypeName(request)) + ": " + s.message());
  Message answer;
  std::string error;
  ReceiveOutcome r = ReceiveMessage(channel, &answer, &error);
  if (r == ReceiveOutcome::kClosed) _exit(1);  // the monitor is gone: so are we
  if (r != ReceiveOutcome::kMessage) Fatal("monitor answer: " + error);
  if (answer.type != expected) {
    Fatal(std::string("monitor answered ") + MsgTypeName(answer.type) + " to " +
          MsgTypeName(request));
  }
  if (answer.fd.valid() && !MessageCarriesFd(answer.type)) Fatal("unexpected descriptor");
  return answer;
}

// The answer's body as R, or the jail ends: the monitor does not send malformed answers.
template <typename R>
R DecodeAnswer(const Message& answer) {
  R out;
  Status s = Decode(answer.body, &out);
  if (!s.ok()) Fatal(s.message());
  return out;
}

// expect_fd: a DATA_RESULT that says ok carries the connection (not for the first step of a
// TLS data connection, whose raw socket stays with the monitor).
DataAnswer DecodeDataAnswer(Message answer, bool expect_fd = true) {
  DataResult result = DecodeAnswer<DataResult>(answer);
  if ((result.ok && expect_fd) != answer.fd.valid()) {
    Fatal("DATA_RESULT descriptor does not match its status");
  }
  return DataAnswer{result.ok, std::move(answer.fd), std::move(result.message)};
}

}  // namespace

LoginResult RequestLogin(int channel, std::string_view user, std::string_view password,
                         bool prot_private) {
  LoginRequest req{std::string(user.substr(0, kMaxUserName)),
                   std::string(password.substr(0, kMaxPassword)), prot_private};
  const std::string body = Encode(req);
  explicit_bzero(req.password.data(), req.password.size());
  return DecodeAnswer<LoginResult>(Call(channel, MsgType::kLogin, body, MsgType::kLoginResult));
}

PasvListenResult RequestPasvListen(int channel) {
  return DecodeAnswer<PasvListenResult>(
      Call(channel, MsgType::kPasvListen, {}, MsgType::kPasvListenResult));
}

bool RequestProxyInfo(int channel, const ProxyHeader& header, std::string* reply) {
  ProxyInfoRequest req;
  req.proxied = header.kind == ProxyHeader::Kind::kProxy;
  req.source = header.source.Normalized();
  req.destination = header.destination.Normalized();
  ProxyInfoResult result = DecodeAnswer<ProxyInfoResult>(
      Call(channel, MsgType::kProxyInfo, Encode(req), MsgType::kProxyInfoResult));
  *reply = std::move(result.reply);
  return result.go_on;
}

DataAnswer RequestDataAccept(int channel, bool tls, ControlConnection& ctrl) {
  Status s = SendMessage(channel, MsgType::kDataAccept, Encode(DataAcceptRequest{tls}));
  if (!s.ok()) Fatal("monitor request DATA_ACCEPT: " + s.message());
  bool watch = true;
  while (watch) {
    pollfd p[2] = {{channel, POLLIN, 0}, {ctrl.fd(), POLLIN | POLLRDHUP, 0}};
    int n = poll(p, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || p[0].revents != 0) break;  // the answer (or the monitor's end): read it below
    std::string line;
    bool closed = false;
    bool cancel = false;
    if (ctrl.PeekLine(&line, &closed)) {
      cancel = ParseCommandLine(line).verb == "ABOR";
      watch = false;  // a whole command: it waits its turn either way
    } else if (closed) {
      cancel = true;
    } else {
      // Half a line (PeekLine took its bytes): watch on for the rest, unless bytes PeekLine
      // would not take are waiting (an over-long line), which would wake us forever.
      char probe;
      if (recv(ctrl.fd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) > 0) watch = false;
    }
    if (cancel) {
      s = SendMessage(channel, MsgType::kDataCancel, {});
      if (!s.ok()) Fatal("monitor request DATA_CANCEL: " + s.message());
      watch = false;
    }
  }
  Message answer;
  std::string error;
  ReceiveOutcome r = ReceiveMessage(channel, &answer, &error);
  if (r == ReceiveOutcome::kClosed) _exit(1);
  if (r != ReceiveOutcome::kMessage) Fatal("monitor answer: " + error);
  if (answer.type != MsgType::kDataResult) {
    Fatal(std::string("monitor answered ") + MsgTypeName(answer.type) + " to DATA_ACCEPT");
  }
  return DecodeDataAnswer(std::move(answer), !tls);
}

DataAnswer RequestTlsData(int channel) {
  return DecodeDataAnswer(Call(channel, MsgType::kTlsData, {}, MsgType::kDataResult));
}

bool RequestTlsDataStatus(int channel, bool upload, bool* close_notify) {
  TlsDataStatusResult result = DecodeAnswer<TlsDataStatusResult>(
      Call(channel, MsgType::kTlsDataStatus, Encode(TlsDataStatusRequest{upload}),
           MsgType::kTlsDataStatusResult));
  if (close_notify != nullptr) *close_notify = result.close_notify;
  return result.clean;
}

StartTlsAnswer RequestStartTls(int channel) {
  Message answer = Call(channel, MsgType::kStartTls, {}, MsgType::kStartTlsResult);
  StartTlsResult result = DecodeAnswer<StartTlsResult>(answer);
  if (result.ok != answer.fd.valid()) Fatal("START_TLS_RESULT descriptor does not match its status");
  return StartTlsAnswer{result.ok, std::move(answer.fd), std::move(result.message)};
}

DataAnswer RequestPortConnect(int channel, const SockAddr& target, bool tls) {
  const PortConnectRequest req{target.Normalized(), tls};
  return DecodeDataAnswer(Call(channel, MsgType::kPortConnect, Encode(req), MsgType::kDataResult),
                          !tls);
}

bool RequestChownUpload(int channel, int fd) {
  return DecodeAnswer<ChownResult>(
             Call(channel, MsgType::kChownUpload, {}, MsgType::kChownResult, fd))
      .ok;
}

void RequestReinit(int channel) {
  Status s = SendMessage(channel, MsgType::kReinit, {});
  if (!s.ok()) Fatal("REINIT: " + s.message());
}

}  // namespace keepftpd
