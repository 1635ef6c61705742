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
#include "wire.h"

namespace keepftpd {

namespace {

constexpr std::size_t kMaxAnswerText = 512;

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

// expect_fd: a DATA_RESULT that says ok carries the connection (not for the first step of a
// TLS data connection, whose raw socket stays with the monitor).
DataAnswer DecodeDataAnswer(Message answer, bool expect_fd = true) {
  DataAnswer out;
  WireReader r(answer.body);
  std::uint8_t ok = 0;
  r.GetU8(&ok);
  r.GetString(kMaxAnswerText, &out.message);
  if (!r.Finish()) Fatal("malformed DATA_RESULT");
  out.ok = ok != 0;
  if ((out.ok && expect_fd) != answer.fd.valid()) {
    Fatal("DATA_RESULT descriptor does not match its status");
  }
  out.fd = std::move(answer.fd);
  return out;
}

}  // namespace

LoginAnswer RequestLogin(int channel, std::string_view user, std::string_view password,
                         bool prot_private) {
  LoginRequest req{std::string(user.substr(0, kMaxUserName)),
                   std::string(password.substr(0, kMaxPassword)), prot_private};
  const std::string body = Encode(req);
  explicit_bzero(req.password.data(), req.password.size());
  Message answer = Call(channel, MsgType::kLogin, body, MsgType::kLoginResult);
  LoginAnswer out;
  WireReader r(answer.body);
  std::uint8_t ok = 0, close = 0;
  r.GetU8(&ok);
  r.GetU8(&close);
  r.GetString(kMaxAnswerText, &out.message);
  if (!r.Finish()) Fatal("malformed LOGIN_RESULT");
  out.ok = ok != 0;
  out.close = close != 0;
  return out;
}

PasvAnswer RequestPasvListen(int channel) {
  Message answer = Call(channel, MsgType::kPasvListen, {}, MsgType::kPasvListenResult);
  PasvAnswer out;
  WireReader r(answer.body);
  std::uint8_t ok = 0;
  r.GetU8(&ok);
  r.GetU16(&out.port);
  r.GetString(kMaxAnswerText, &out.message);
  std::uint8_t resolved = 0;
  std::string_view address;
  r.GetU8(&resolved);
  r.GetBytes(4, &address);
  if (!r.Finish() || resolved > 1) Fatal("malformed PASV_LISTEN_RESULT");
  out.ok = ok != 0;
  out.resolved = resolved != 0;
  std::memcpy(out.address, address.data(), 4);
  return out;
}

bool RequestProxyInfo(int channel, const ProxyHeader& header, std::string* reply) {
  ProxyInfoRequest req;
  req.proxied = header.kind == ProxyHeader::Kind::kProxy;
  req.source = header.source.Normalized();
  req.destination = header.destination.Normalized();
  Message answer = Call(channel, MsgType::kProxyInfo, Encode(req), MsgType::kProxyInfoResult);
  WireReader r(answer.body);
  std::uint8_t go_on = 0;
  r.GetU8(&go_on);
  r.GetString(kMaxAnswerText, reply);
  if (!r.Finish() || go_on > 1) Fatal("malformed PROXY_INFO_RESULT");
  return go_on == 1;
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
  Message answer = Call(channel, MsgType::kTlsDataStatus, Encode(TlsDataStatusRequest{upload}),
                        MsgType::kTlsDataStatusResult);
  WireReader r(answer.body);
  std::uint8_t clean = 0, notified = 0;
  r.GetU8(&clean);
  r.GetU8(&notified);
  if (!r.Finish() || clean > 1 || notified > 1) Fatal("malformed TLS_DATA_STATUS_RESULT");
  if (close_notify != nullptr) *close_notify = notified != 0;
  return clean != 0;
}

StartTlsAnswer RequestStartTls(int channel) {
  Message answer = Call(channel, MsgType::kStartTls, {}, MsgType::kStartTlsResult);
  StartTlsAnswer out;
  WireReader r(answer.body);
  std::uint8_t ok = 0;
  r.GetU8(&ok);
  r.GetString(kMaxAnswerText, &out.message);
  if (!r.Finish()) Fatal("malformed START_TLS_RESULT");
  out.ok = ok != 0;
  if (out.ok != answer.fd.valid()) Fatal("START_TLS_RESULT descriptor does not match its status");
  out.plain_control = std::move(answer.fd);
  return out;
}

DataAnswer RequestPortConnect(int channel, const SockAddr& target, bool tls) {
  const PortConnectRequest req{target.Normalized(), tls};
  return DecodeDataAnswer(Call(channel, MsgType::kPortConnect, Encode(req), MsgType::kDataResult),
                          !tls);
}

bool RequestChownUpload(int channel, int fd) {
  Message answer = Call(channel, MsgType::kChownUpload, {}, MsgType::kChownResult, fd);
  WireReader r(answer.body);
  std::uint8_t ok = 0;
  r.GetU8(&ok);
  if (!r.Finish()) Fatal("malformed CHOWN_RESULT");
  return ok != 0;
}

void RequestReinit(int channel) {
  Status s = SendMessage(channel, MsgType::kReinit, {});
  if (!s.ok()) Fatal("REINIT: " + s.message());
}

}  // namespace keepftpd
