// What both jails answer the same way (vsftpd's features.c): the FEAT lines, PBSZ and PROT
// before and after login, and whether cmds_allowed / cmds_denied let a command run. Jails only.
#ifndef KEEPFTPD_SRC_JAIL_FTP_FEATURES_H_
#define KEEPFTPD_SRC_JAIL_FTP_FEATURES_H_

#include <string>
#include <string_view>
#include <vector>

#include "cmdio.h"
#include "config.h"

namespace keepftpd {

// True when the verb may run under cmds_allowed / cmds_denied.
bool CommandPermitted(const Config& config, std::string_view verb);

// The FEAT reply lines.
// tls: list AUTH TLS, PBSZ and PROT (ssl_enable).
std::vector<std::string> FeatureLines(const std::string& mlst_facts, const std::string& hashes,
                                      bool tls);

// PBSZ and PROT, before and after login: the reply, and the new state.
struct ProtState {
  bool pbsz = false;          // PBSZ 0 was given
  bool private_data = false;  // PROT P
};
void HandlePbsz(ControlConnection& ctrl, bool tls, std::string_view arg, ProtState* state);
void HandleProt(ControlConnection& ctrl, bool tls, std::string_view arg, ProtState* state);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_FTP_FEATURES_H_
