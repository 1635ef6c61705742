// The configuration: a vsftpd.conf-style file parsed once, in the entry process before any fork,
// into an immutable Config. Every option is one row of tunables.def. Shared (read-only) by every
// process; only the entry process loads it.
#ifndef KEEPFTPD_SRC_COMMON_CONFIG_H_
#define KEEPFTPD_SRC_COMMON_CONFIG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "name_filter.h"
#include "sockaddr.h"
#include "status.h"

namespace keepftpd {

struct Config {
#define KEEPFTPD_BOOL(name, def, vsftpd_default, help) bool name = def;
#define KEEPFTPD_UINT(name, def, min, max, kind, help) unsigned name = def;
#define KEEPFTPD_STR(name, def, kind, help) std::string name = def;
#include "tunables.def"
#undef KEEPFTPD_BOOL
#undef KEEPFTPD_UINT
#undef KEEPFTPD_STR
  // The parsed forms of the options above that have one, made by the parser from the same text
  // (tunables.def's Networks, PasvAddressMap and Filter kinds): nothing parses them again.
  std::vector<Network> proxy_trusted_networks;      // proxy_trusted_addresses
  std::vector<PasvAddressRule> pasv_address_rules;  // pasv_address_map
  NameFilter deny_filter;                           // deny_file
  NameFilter hide_filter;                           // hide_file
  NameFilter download_filter;                       // download_file
  NameFilter upload_filter;                         // upload_file
  std::optional<SockAddr> pasv_address_ipv4;        // pasv_address, without pasv_addr_resolve
};

// One error found in a config file: "FILE:LINE: OPTION: MESSAGE" when printed.
struct ConfigError {
  std::string file;
  unsigned line = 0;    // 0 when the error is about the file as a whole
  std::string option;   // empty when the line has no recognisable option name
  std::string message;
  std::string ToString() const;
};

// Parses the text of a config file. Every error is appended to *errors (parsing goes on after
// an error, so that --check-config can list them all). Returns the Config built from the lines
// that were valid; callers must not use it when *errors is non-empty.
// base: the values options not set in text keep (the defaults, or for a user_config_dir file,
// the main configuration).
Config ParseConfig(std::string_view text, std::string_view file_name,
                   std::vector<ConfigError>* errors, const Config& base = Config());

// Reads and parses the file at path. Refuses (as an error on line 0) a file that is not a regular
// file, is larger than kMaxConfigBytes, or where the file or its directory is not owned by root or
// is writable by group or others (with run_as_launching_user=YES, owned by the user running
// keepftpd is allowed too). Cross-option checks (pasv_min_port <= pasv_max_port, ...) are
// done here too.
Config LoadConfigFile(const std::string& path, std::vector<ConfigError>* errors,
                      const Config& base = Config());

// How keepftpd takes each vsftpd option (vsftpd_options.def):
//  kImplemented: the same option (note: where keepftpd's default differs);
//  kMapped: accepted, with a difference the note explains;
//  kRefused: refused whatever its value; the note names the replacement.
enum class VsftpdStatus { kImplemented, kMapped, kRefused };
struct VsftpdOption {
  std::string_view name;
  char type = 'B';                  // 'B' (YES/NO), 'U' (number) or 'S' (string)
  std::string_view vsftpd_default;  // upstream vsftpd's; "" when unset
  std::string_view sample;          // a non-default value ("@FILE", "@DIR": any file, directory)
  VsftpdStatus status = VsftpdStatus::kImplemented;
  std::string note;
};
const std::vector<VsftpdOption>& VsftpdOptions();  // sorted by name
const char* VsftpdStatusName(VsftpdStatus status);  // "implemented", "mapped", ...
// Every keepftpd option (the rows of tunables.def), sorted: for the table of vsftpd options
// and the migration.
std::vector<std::string_view> KeepftpdOptionNames();
// keepftpd's default for one of its options, as it would be written in the file ("YES", "300").
std::string KeepftpdDefault(std::string_view name);

// Whether REIN after a login may start a new pre-login jail as isolated as the first: the
// first is cloned into new namespaces (isolate, isolate_network) while the monitor still holds
// CAP_SYS_ADMIN, which it gives up before any login; rootless, its user namespace allows it.
// Otherwise REIN after login is refused (502), and the monitor refuses a jail's REINIT.
inline bool ReinAfterLogin(const Config& config, bool rootless) {
  return rootless || (!config.isolate && !config.isolate_network);
}

// rsa_cert_file's default: the self-signed "snakeoil" certificate that Debian's and Ubuntu's
// ssl-cert package makes at installation (make-ssl-cert generate-default-snakeoil makes it
// again), with its key. Fedora and Arch have no such default: there the file is named.
inline constexpr char kSnakeoilCert[] = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
inline constexpr char kSnakeoilKey[] = "/etc/ssl/private/ssl-cert-snakeoil.key";

// Where the TLS private key is read from, and the option that names it: rsa_private_key_file;
// unset, the snakeoil key with the snakeoil certificate, else rsa_cert_file itself (vsftpd's
// way: one PEM file holding both).
struct TlsKeyFile {
  std::string path;
  const char* option;
};
inline TlsKeyFile TlsKeyFileOf(const Config& config) {
  if (!config.rsa_private_key_file.empty()) {
    return {config.rsa_private_key_file, "rsa_private_key_file"};
  }
  if (config.rsa_cert_file == kSnakeoilCert) return {kSnakeoilKey, "rsa_private_key_file"};
  return {config.rsa_cert_file, "rsa_cert_file"};
}

inline constexpr std::size_t kMaxConfigBytes = 100000;
inline constexpr const char* kDefaultConfigPath = "/etc/keepftpd.conf";

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_CONFIG_H_
