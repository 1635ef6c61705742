// The TLS jail: the only process of a connection that parses TLS. It owns the SSL objects of
// the control connection and of every data connection, and relays plaintext to the protocol
// jails over socket pairs; they never see a TLS byte. It runs as nopriv_user, chrooted into
// secure_chroot_dir, with its own seccomp allowlist; the certificate and key are read before the
// jail is entered. TLS jail (MakeServerContext in its process before it enters the jail;
// CheckTlsFiles for --check-config).
#ifndef KEEPFTPD_SRC_JAIL_TLS_H_
#define KEEPFTPD_SRC_JAIL_TLS_H_

#include <openssl/ssl.h>

#include <string>
#include <string_view>

#include "config.h"
#include "status.h"

namespace keepftpd {

// Builds the server context: TLS 1.2 and 1.3 only, the configured certificate, key and
// ciphers, a session cache (data connections resume the control connection's session).
// Fails with "option=value: what is wrong (the fix)" when the certificate or key is missing,
// unreadable or does not match, never with OpenSSL's error codes; *failed_option (when given)
// is then the option at fault.
Result<SSL_CTX*> MakeServerContext(const Config& config, std::string* failed_option = nullptr);

// Checks the certificate and key as MakeServerContext would, for --check-config. Empty when
// fine; else the message, and *option the option at fault.
std::string CheckTlsFiles(const Config& config, std::string* option);

// Tells the monitor over channel (TLS_READY) that the TLS jail's context is built (error empty)
// or why it could not be.
void SendTlsReady(int channel, std::string_view error);

// The TLS jail's loop, once its process has said TLS_READY and entered its jail. Waits for the
// monitor's TLS_START before it touches raw_control: the client's control socket (the handshake is the next thing on it after
// TLS_START); plain_control: our end of the plaintext control stream; channel: requests from
// the monitor (TLS_WRAP: a raw data connection to handshake and relay). Returns never; exits
// when the control connection ends, or when the monitor goes before TLS_START.
[[noreturn]] void RunTlsJail(const Config& config, SSL_CTX* ctx, int raw_control,
                             int plain_control, int channel);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_TLS_H_
