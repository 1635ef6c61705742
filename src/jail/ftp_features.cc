// The features both jails share (vsftpd's features.c): the FEAT reply, PBSZ and PROT before and
// after login, and cmds_allowed / cmds_denied. Jails only.
#include "ftp_features.h"

#include "strutil.h"

namespace keepftpd {

namespace {

bool InCommandList(const std::string& list, std::string_view verb) {
  for (std::string_view item : Split(list, ',')) {
    if (EqualsIgnoreCase(TrimSpaces(item), verb)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> FeatureLines(const std::string& mlst_facts, const std::string& hashes,
                                      bool tls) {
  std::vector<std::string> lines;
  if (tls) lines = {" AUTH SSL", " AUTH TLS"};
  for (std::string l : {" EPRT", " EPSV"}) lines.push_back(l);
  lines.push_back(" HASH " + hashes);
  for (std::string l : {" HOST", " MDTM", " MFMT"}) lines.push_back(l);
  lines.push_back(" MLST " + mlst_facts);
  lines.push_back(" PASV");
  if (tls) {
    lines.push_back(" PBSZ");
    lines.push_back(" PROT");
  }
  for (std::string l : {" REST STREAM", " SIZE", " TVFS", " UTF8"}) lines.push_back(l);
  return lines;
}

void HandlePbsz(ControlConnection& ctrl, bool tls, std::string_view arg, ProtState* state) {
  if (!tls) return (void)ctrl.Reply(503, "PBSZ needs a TLS connection: AUTH TLS first.");
  // Stream mode over TLS has no buffer size: any request gets 0 (RFC 4217, 8.1).
  state->pbsz = true;
  ctrl.Reply(200, TrimSpaces(arg) == "0" ? "PBSZ set to 0." : "PBSZ=0");
}

void HandleProt(ControlConnection& ctrl, bool tls, std::string_view arg, ProtState* state) {
  if (!tls) return (void)ctrl.Reply(503, "PROT needs a TLS connection: AUTH TLS first.");
  // RFC 4217 wants PBSZ first; like vsftpd, PROT is accepted without it (Python's ftplib
  // sends PROT C alone).
  std::string level = AsciiUpper(TrimSpaces(arg));
  if (level == "P") {
    state->private_data = true;
    ctrl.Reply(200, "PROT now Private.");
  } else if (level == "C") {
    state->private_data = false;
    ctrl.Reply(200, "PROT now Clear.");
  } else if (level == "S" || level == "E") {
    ctrl.Reply(536, "PROT level not supported.");
  } else {
    ctrl.Reply(504, "Unknown PROT level.");
  }
}

bool CommandPermitted(const Config& config, std::string_view verb) {
  if (!config.cmds_denied.empty() && InCommandList(config.cmds_denied, verb)) return false;
  if (!config.cmds_allowed.empty() && !InCommandList(config.cmds_allowed, verb)) return false;
  return true;
}

}  // namespace keepftpd
