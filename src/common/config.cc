// Parsing and loading of the vsftpd.conf-style configuration file (see config.h and
// keepftpd.conf(5)). The entry process loads the main file before any fork; the monitor loads a
// user's user_config_dir file at login; --from-vsftpd and --features read the option tables.
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "name_filter.h"
#include "sockaddr.h"
#include "strutil.h"
#include "unique_fd.h"

namespace keepftpd {
namespace {

// ---------------------------------------------------------------------------------------------
// The option tables.

struct BoolRow {
  std::string_view name;
  bool Config::*field;
};
// How a number is written and what it may be (tunables.def's UINT kinds).
enum class UintKind { kNumber, kOctal, kPort };
struct UintRow {
  std::string_view name;
  unsigned Config::*field;
  unsigned min;
  unsigned max;
  UintKind kind = UintKind::kNumber;
};
// What a string must look like (tunables.def's STR kinds); Networks, PasvAddressMap and Filter
// are parsed into Config fields as well (StoreParsed).
enum class StrKind {
  kText, kPath, kStateDir, kUserName, kHost, kStartDir, kFileName, kNetworks, kPasvAddressMap,
  kCommands, kFilter,
};
struct StrRow {
  std::string_view name;
  std::string Config::*field;
  std::string_view default_value;
  StrKind kind = StrKind::kText;
};

#define KEEPFTPD_BOOL(name, def, vsftpd_default, help) {#name, &Config::name},
#define KEEPFTPD_UINT(name, def, min, max, kind, help)
#define KEEPFTPD_STR(name, def, kind, help)
constexpr BoolRow kBoolRows[] = {
#include "tunables.def"
};
#undef KEEPFTPD_BOOL
#undef KEEPFTPD_UINT
#undef KEEPFTPD_STR

#define KEEPFTPD_BOOL(name, def, vsftpd_default, help)
#define KEEPFTPD_UINT(name, def, min, max, kind, help) \
  {#name, &Config::name, min, max, UintKind::k##kind},
#define KEEPFTPD_STR(name, def, kind, help)
constexpr UintRow kUintRows[] = {
#include "tunables.def"
};
#undef KEEPFTPD_BOOL
#undef KEEPFTPD_UINT
#undef KEEPFTPD_STR

#define KEEPFTPD_BOOL(name, def, vsftpd_default, help)
#define KEEPFTPD_UINT(name, def, min, max, kind, help)
#define KEEPFTPD_STR(name, def, kind, help) {#name, &Config::name, def, StrKind::k##kind},
constexpr StrRow kStrRows[] = {
#include "tunables.def"
};
#undef KEEPFTPD_BOOL
#undef KEEPFTPD_UINT
#undef KEEPFTPD_STR

// Boolean vsftpd options that only make sense for a standalone daemon: NO is accepted and
// ignored (so a vsftpd.conf written for inetd mode works unchanged), YES is refused.
struct InertOption {
  std::string_view name;
  std::string_view yes_message;  // why the other value is refused, and what to use instead
  bool accepted = false;         // the value that is accepted (NO for most)
};
constexpr std::string_view kStandaloneMessage =
    "keepftpd is started per connection by ftp.socket (Accept=yes) or xinetd; set it to NO or "
    "remove the line";
constexpr InertOption kInertOptions[] = {
    {"background", kStandaloneMessage},
    {"listen", kStandaloneMessage},
    {"listen_ipv6", kStandaloneMessage},
    {"tcp_wrappers", "use IPAddressAllow=/IPAddressDeny= in ftp.socket or xinetd only_from/no_access"},
    {"ptrace_sandbox",
     "vsftpd's experimental ptrace sandbox does not exist in keepftpd; its jails are confined by "
     "seccomp allowlists (seccomp_sandbox)"},
    {"http_enable", "keepftpd serves FTP only; use a web server for HTTP"},
    {"ftp_enable", "keepftpd serves FTP only: FTP cannot be turned off", true},
};

// vsftpd options accepted with any valid value of their type, and ignored: keepftpd already
// behaves as the note says.
struct AcceptedOption {
  std::string_view name;
  char type;  // 'B' or 'U' (validated as such) or 'S'
  std::string_view note;
};
constexpr AcceptedOption kAcceptedOptions[] = {
    {"async_abor_enable", 'B',
     "accepted and ignored: keepftpd always answers ABOR during a transfer, with or without "
     "the telnet interrupt and urgent data, so YES and NO behave alike"},
    {"ecdh_param_file", 'S',
     "accepted and ignored: OpenSSL chooses the key exchange groups (X25519, P-256, P-384)"},
    {"no_log_lock", 'B',
     "accepted and ignored: keepftpd writes each log line with a single append, without a lock"},
    {"reverse_lookup_enable", 'B',
     "accepted and ignored: keepftpd never looks client addresses up in DNS (a privileged "
     "process would read the answer); PAM and the logs get the numeric address, so pam_access "
     "rules must name addresses or networks"},
    {"trans_chunk_size", 'U',
     "accepted and ignored: keepftpd chooses its transfer buffer sizes itself"},
    {"utf8_filesystem", 'B',
     "accepted and ignored: keepftpd always announces UTF8 in FEAT and passes names through "
     "unchanged (vsftpd's YES)"},
};

const AcceptedOption* FindAccepted(std::string_view name) {
  for (const AcceptedOption& a : kAcceptedOptions) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

// vsftpd options refused whatever their value, with what to use instead.
struct RefusedOption {
  std::string_view name;
  std::string_view message;
};
constexpr RefusedOption kRefusedOptions[] = {
    {"listen_address",
     "keepftpd is started per connection; set ListenStream= with the address in ftp.socket "
     "(or bind in the xinetd entry)"},
    {"listen_address6",
     "keepftpd is started per connection; set ListenStream= with the address in ftp.socket "
     "(or bind in the xinetd entry)"},
    {"listen_port",
     "keepftpd is started per connection; set ListenStream= in ftp.socket (or port in the xinetd "
     "entry)"},
    {"max_clients", "set MaxConnections= in ftp.socket (xinetd: instances)"},
    {"max_per_ip", "set MaxConnectionsPerSource= in ftp.socket (xinetd: per_source)"},
    {"one_process_model",
     "it removes the privilege separation keepftpd is built on"},
    {"dsa_cert_file",
     "DSA certificates cannot be used with TLS 1.2 and 1.3; use rsa_cert_file with an RSA or "
     "ECDSA certificate"},
    {"dsa_private_key_file",
     "DSA certificates cannot be used with TLS 1.2 and 1.3; use rsa_private_key_file with an RSA "
     "or ECDSA key"},
};

const InertOption* FindInert(std::string_view name) {
  for (const InertOption& o : kInertOptions) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

const RefusedOption* FindRefused(std::string_view name) {
  for (const RefusedOption& r : kRefusedOptions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

template <typename Row, std::size_t N>
const Row* FindRow(const Row (&rows)[N], std::string_view name) {
  for (const Row& r : rows) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

bool IsKnownOption(std::string_view name) {
  return FindRow(kBoolRows, name) || FindRow(kUintRows, name) || FindRow(kStrRows, name) ||
         FindInert(name) != nullptr || FindRefused(name) || FindAccepted(name) != nullptr;
}

// ---------------------------------------------------------------------------------------------
// "Did you mean": the closest known name by edit distance, compared case-insensitively.

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string Suggestion(std::string_view name) {
  if (name.size() > 64) return "";
  const std::string lower = AsciiLower(name);
  std::string_view best;
  std::size_t best_distance = SIZE_MAX;
  auto consider = [&](std::string_view candidate) {
    std::size_t d = EditDistance(lower, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  };
  for (const BoolRow& r : kBoolRows) consider(r.name);
  for (const UintRow& r : kUintRows) consider(r.name);
  for (const StrRow& r : kStrRows) consider(r.name);
  for (const InertOption& o : kInertOptions) consider(o.name);
  for (const RefusedOption& r : kRefusedOptions) consider(r.name);
  for (const AcceptedOption& a : kAcceptedOptions) consider(a.name);
  const std::size_t limit = lower.size() >= 8 ? 2 : 1;
  if (best_distance > limit) return "";
  return std::string(best);
}

// ---------------------------------------------------------------------------------------------
// Value checks. Each returns an empty string when the value is fine, else what is wrong.

std::optional<bool> ParseBool(std::string_view value) {
  if (EqualsIgnoreCase(value, "YES") || EqualsIgnoreCase(value, "TRUE") || value == "1") {
    return true;
  }
  if (EqualsIgnoreCase(value, "NO") || EqualsIgnoreCase(value, "FALSE") || value == "0") {
    return false;
  }
  return std::nullopt;
}

std::string ExpectedBool(std::string_view value) {
  std::string message = "expected YES or NO";
  if (value.empty()) return "missing value; " + message;
  message += ", got '" + SanitizeForLog(value) + "'";
  if (TrimSpaces(value) != value) message += " (no spaces are allowed around the value)";
  return message;
}

std::string CheckUint(const UintRow& row, std::string_view value, unsigned* out) {
  if (row.kind == UintKind::kOctal) {
    unsigned n = 0;
    bool ok = !value.empty() && value.size() <= 5;
    for (char c : value) {
      if (c < '0' || c > '7') ok = false;
      n = n * 8 + static_cast<unsigned>(c - '0');
    }
    if (!ok || n > row.max) {
      return "expected an octal number from 0 to 0777 like 022, got '" + SanitizeForLog(value) +
             "'";
    }
    *out = n;
    return "";
  }
  const std::string range =
      "a number from " + std::to_string(row.min) + " to " + std::to_string(row.max);
  if (value.empty()) return "missing value; expected " + range;
  std::optional<std::uint64_t> n = ParseDecimal(value, UINT_MAX);
  if (!n || *n < row.min || *n > row.max) {
    return "expected " + range + ", got '" + SanitizeForLog(value) + "'";
  }
  if (value.size() > 1 && value[0] == '0') {
    return "'" + std::string(value) +
           "' has a leading zero, which vsftpd reads as octal; write the decimal number without "
           "leading zeros";
  }
  if (row.kind == UintKind::kPort && *n != 0 && *n < 1024) {
    return "expected 0 (any port) or a number from 1024 to 65535, got " + std::string(value);
  }
  *out = static_cast<unsigned>(*n);
  return "";
}

bool HasControlByte(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool IsAsciiLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

std::string CheckCommandList(std::string_view value) {
  for (std::string_view verb : Split(value, ',')) {
    if (verb.empty()) return "empty entry in the comma-separated command list";
    if (verb.size() > 16 || !std::all_of(verb.begin(), verb.end(), IsAsciiLetter)) {
      return "'" + SanitizeForLog(verb) +
             "' is not an FTP command; expected a comma-separated list of commands like "
             "RETR,LIST (letters only, no spaces)";
    }
  }
  return "";
}

std::string CheckString(const StrRow& row, std::string_view value) {
  if (value.empty()) {
    // login_state_dir= (empty) turns off remembering failed logins across connections.
    if (row.default_value.empty() || row.kind == StrKind::kStateDir) return "";
    return "must not be empty (remove the line to use the default '" +
           std::string(row.default_value) + "')";
  }
  if (HasControlByte(value)) return "contains a control character";
  switch (row.kind) {
    case StrKind::kText:
    case StrKind::kNetworks:        // checked by StoreParsed, which parses them
    case StrKind::kPasvAddressMap:
    case StrKind::kFilter:
      return "";
    case StrKind::kPath:
    case StrKind::kStateDir:
      if (value.front() != '/') {
        return "expected an absolute path (starting with '/'), got '" + SanitizeForLog(value) +
               "'";
      }
      return "";
    case StrKind::kUserName:
      if (value.find_first_of(" \t:/,") != std::string_view::npos) {
        return "'" + SanitizeForLog(value) + "' is not a user name";
      }
      return "";
    case StrKind::kHost:
      // A host name is allowed with pasv_addr_resolve (checked once the file is read).
      if (value.size() > 253 ||
          value.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789.-") != std::string_view::npos) {
        return "expected an IPv4 address like 192.0.2.1 (or, with pasv_addr_resolve, a host "
               "name), got '" + SanitizeForLog(value) + "'";
      }
      return "";
    case StrKind::kStartDir:
      if (value.front() == '/' || value.find("..") != std::string_view::npos) {
        return "expected a relative path below the jail's root, like 'files', got '" +
               SanitizeForLog(value) + "'";
      }
      return "";
    case StrKind::kFileName:
      if (value.find('/') != std::string_view::npos) {
        return "expected a file name without '/', got '" + SanitizeForLog(value) + "'";
      }
      return "";
    case StrKind::kCommands:
      return CheckCommandList(value);
  }
  return "";
}

// For the kinds that have a parsed form: parses value into the Config field that holds it, so
// that nothing parses it again. Returns the problem, or "".
std::string StoreParsed(const StrRow& row, std::string_view value, Config* config) {
  const std::string_view name = row.name;
  switch (row.kind) {
    case StrKind::kNetworks: {
      // Empty: unset, as for every string option (a user's file may clear the main one's).
      Result<std::vector<Network>> networks =
          value.empty() ? std::vector<Network>() : ParseNetworkList(value);
      if (!networks.ok()) return networks.status().message();
      if (name == "proxy_trusted_addresses") config->proxy_trusted_networks = *networks;
      return "";
    }
    case StrKind::kPasvAddressMap: {
      Result<std::vector<PasvAddressRule>> rules =
          value.empty() ? std::vector<PasvAddressRule>() : ParsePasvAddressMap(value);
      if (!rules.ok()) return rules.status().message();
      if (name == "pasv_address_map") config->pasv_address_rules = *rules;
      return "";
    }
    case StrKind::kFilter: {
      Result<NameFilter> filter = NameFilter::Parse(value);
      if (!filter.ok()) return filter.status().message();
      NameFilter Config::*field = name == "deny_file"       ? &Config::deny_filter
                                  : name == "hide_file"     ? &Config::hide_filter
                                  : name == "download_file" ? &Config::download_filter
                                  : name == "upload_file"   ? &Config::upload_filter
                                                            : nullptr;
      if (field != nullptr) config->*field = *filter;
      return "";
    }
    default:
      return "";
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing.

class Parser {
 public:
  Parser(std::string_view file_name, std::vector<ConfigError>* errors, const Config& base)
      : file_name_(file_name), errors_(errors), config_(base) {}

  void ParseLine(unsigned line_number, std::string_view line);
  void CheckCrossOptions();
  Config& config() { return config_; }
  void CheckRootless();

 private:
  void Error(unsigned line, std::string_view option, std::string message) {
    errors_->push_back(ConfigError{file_name_, line, SanitizeForLog(option), std::move(message)});
  }
  void SetOption(unsigned line, std::string_view name, std::string_view value);

  std::string file_name_;
  std::vector<ConfigError>* errors_;
  Config config_;
  std::map<std::string, unsigned, std::less<>> seen_;  // option -> line where first set
  unsigned unknown_count_ = 0;
};

void Parser::ParseLine(unsigned line_number, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // Like vsftpd: leading white space before the option name is skipped.
  std::string_view rest = line;
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (rest.empty() || rest.front() == '#') return;

  const std::size_t eq = rest.find('=');
  if (eq == std::string_view::npos) {
    std::string_view name = TrimSpaces(rest);
    const bool known = IsKnownOption(name);
    Error(line_number, known ? name : std::string_view(),
          "missing '=': expected option=value, got '" + SanitizeForLog(rest) + "'");
    return;
  }
  std::string_view name = rest.substr(0, eq);
  const std::string_view value = rest.substr(eq + 1);
  if (name.empty()) {
    Error(line_number, "", "missing option name before '='");
    return;
  }
  if (TrimSpaces(name) != name) {
    Error(line_number, TrimSpaces(name),
          "spaces before '=' are not allowed; write " + SanitizeForLog(TrimSpaces(name)) +
              "=value");
    return;
  }
  SetOption(line_number, name, value);
}

void Parser::SetOption(unsigned line, std::string_view name, std::string_view value) {
  if (!IsKnownOption(name)) {
    std::string message = "unknown option";
    // Suggestions cost an edit-distance scan of every option: only for the first few.
    std::string suggestion = ++unknown_count_ <= 3 ? Suggestion(name) : std::string();
    if (!suggestion.empty()) message += "; did you mean " + suggestion + "?";
    Error(line, name, std::move(message));
    return;
  }
  auto [it, inserted] = seen_.emplace(std::string(name), line);
  if (!inserted) {
    Error(line, name, "duplicate option; first set on line " + std::to_string(it->second));
    return;
  }

  if (const BoolRow* row = FindRow(kBoolRows, name)) {
    std::optional<bool> b = ParseBool(value);
    if (!b) return Error(line, name, ExpectedBool(value));
    config_.*(row->field) = *b;
  } else if (const UintRow* urow = FindRow(kUintRows, name)) {
    unsigned n = 0;
    std::string problem = CheckUint(*urow, value, &n);
    if (!problem.empty()) return Error(line, name, std::move(problem));
    config_.*(urow->field) = n;
  } else if (const StrRow* srow = FindRow(kStrRows, name)) {
    std::string problem = CheckString(*srow, value);
    if (problem.empty()) problem = StoreParsed(*srow, value, &config_);
    if (!problem.empty()) return Error(line, name, std::move(problem));
    config_.*(srow->field) = std::string(value);
  } else if (const InertOption* inert = FindInert(name)) {
    std::optional<bool> b = ParseBool(value);
    if (!b) return Error(line, name, ExpectedBool(value));
    if (*b != inert->accepted) Error(line, name, std::string(inert->yes_message));
    // The accepted value (NO for most): accepted and ignored.
  } else if (const AcceptedOption* accepted = FindAccepted(name)) {
    // Accepted and ignored, once the value is one vsftpd would have taken.
    if (accepted->type == 'B' && !ParseBool(value)) return Error(line, name, ExpectedBool(value));
    if (accepted->type == 'U') {
      UintRow number{accepted->name, nullptr, 0, UINT_MAX};
      unsigned ignored = 0;
      std::string problem = CheckUint(number, value, &ignored);
      if (!problem.empty()) return Error(line, name, std::move(problem));
    }
    if (accepted->type == 'S' && HasControlByte(value)) {
      return Error(line, name, "contains a control character");
    }
  } else if (const RefusedOption* refused = FindRefused(name)) {
    Error(line, name, std::string(refused->message));
  }
}

// run_as_launching_user: what needs root is refused, and the failed-login table moves to the
// user's runtime directory unless login_state_dir says where.
void Parser::CheckRootless() {
  auto line_of = [&](std::string_view name) {
    auto where = seen_.find(name);
    return where != seen_.end() ? where->second : 0u;
  };
  auto refuse = [&](std::string_view name, const std::string& why) {
    Error(line_of(name), name,
          "cannot be used with run_as_launching_user=YES (line " +
              std::to_string(line_of("run_as_launching_user")) + "): " + why);
  };
  if (config_.session_support) {
    refuse("session_support", "PAM sessions and utmp/wtmp records need root; set it to NO");
  }
  if (config_.chown_uploads) {
    refuse("chown_uploads", "giving files to another user needs root; set it to NO");
  }
  if (config_.connect_from_port_20 && config_.ftp_data_port < 1024) {
    refuse(line_of("ftp_data_port") != 0 ? "ftp_data_port" : "connect_from_port_20",
           "active data connections from port " + std::to_string(config_.ftp_data_port) +
               " need root; set ftp_data_port to 1024 or above, or connect_from_port_20=NO");
  }
  if (line_of("login_state_dir") == 0 && config_.login_state_dir == Config().login_state_dir) {
    config_.login_state_dir = "/run/user/" + std::to_string(getuid()) + "/keepftpd";
  }
}

void Parser::CheckCrossOptions() {
  if (config_.proxy_protocol) {
    auto where = seen_.find("proxy_protocol");
    unsigned line = where != seen_.end() ? where->second : 0;
    if (config_.proxy_trusted_addresses.empty()) {
      Error(line, "proxy_protocol",
            "needs proxy_trusted_addresses: the balancers' addresses or networks");
    }
  }
  if (config_.run_as_launching_user) CheckRootless();
  config_.pasv_address_ipv4.reset();
  if (!config_.pasv_address.empty() && !config_.pasv_addr_resolve) {
    in_addr addr{};
    if (inet_pton(AF_INET, config_.pasv_address.c_str(), &addr) != 1) {
      auto where = seen_.find("pasv_address");
      Error(where != seen_.end() ? where->second : 0, "pasv_address",
            "expected a numeric IPv4 address like 192.0.2.1, got '" +
                SanitizeForLog(config_.pasv_address) +
                "' (set pasv_addr_resolve=YES to give a host name)");
    } else {
      config_.pasv_address_ipv4 = SockAddr::V4(reinterpret_cast<const std::uint8_t*>(&addr), 0);
    }
  }
  const unsigned min = config_.pasv_min_port;
  const unsigned max = config_.pasv_max_port;
  if (min != 0 && max != 0 && min > max) {
    auto where = seen_.find("pasv_min_port");
    auto max_where = seen_.find("pasv_max_port");
    unsigned line = where != seen_.end() ? where->second : 0;
    std::string message = "pasv_min_port (" + std::to_string(min) +
                          ") is greater than pasv_max_port (" + std::to_string(max);
    if (max_where != seen_.end()) message += ", line " + std::to_string(max_where->second);
    message += ")";
    Error(line, "pasv_min_port", std::move(message));
  }
}

// ---------------------------------------------------------------------------------------------
// Loading the file. The syscalls are wrapped here, locally: the entry process is the only caller
// and this is the only file access it does before the sessions exist.

std::string ModeString(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string DirName(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A file or directory not owned by root: an error unless the configuration turns out to be a
// rootless one (run_as_launching_user=YES) and the owner is the user running keepftpd.
struct OwnerProblem {
  ConfigError error;
  uid_t owner;
};

// Appends an error when dir is not owned by root or is writable by group or others.
void CheckDirectory(const std::string& file, const std::string& dir,
                    std::vector<ConfigError>* errors, std::vector<OwnerProblem>* owners) {
  struct stat st{};
  if (stat(dir.c_str(), &st) != 0) {
    errors->push_back({file, 0, "",
                       "cannot check directory " + SanitizeForLog(dir) + ": " +
                           std::strerror(errno)});
    return;
  }
  if (st.st_uid != 0) {
    owners->push_back({{file, 0, "",
                        "directory " + SanitizeForLog(dir) + " is not owned by root (owner uid " +
                            std::to_string(st.st_uid) + "); anyone owning it can replace the file"},
                       st.st_uid});
  }
  if ((st.st_mode & 022) != 0) {
    errors->push_back({file, 0, "",
                       "directory " + SanitizeForLog(dir) + " is writable by group or others (mode " +
                           ModeString(st.st_mode) + "); anyone able to write it can replace the file"});
  }
}

// Reads the whole file into *text, checking the open descriptor on the way (owner and mode
// problems are reported but the text is still returned, so that every error gets listed). False
// when there is no text to parse.
bool ReadConfigFile(const std::string& path, std::string* text,
                    std::vector<ConfigError>* errors, std::vector<OwnerProblem>* owners) {
  int raw;
  do {
    raw = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  } while (raw < 0 && errno == EINTR);
  UniqueFd file(raw);
  const int fd = file.get();
  if (!file.valid()) {
    errors->push_back({path, 0, "", std::string("cannot open: ") + std::strerror(errno)});
    return false;
  }
  bool ok = true;
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    errors->push_back({path, 0, "", std::string("cannot stat: ") + std::strerror(errno)});
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    errors->push_back({path, 0, "", "not a regular file"});
    return false;
  }
  if (st.st_uid != 0) {
    owners->push_back({{path, 0, "",
                        "not owned by root (owner uid " + std::to_string(st.st_uid) +
                            "); run chown root: on it"},
                       st.st_uid});
  }
  if ((st.st_mode & 022) != 0) {
    errors->push_back({path, 0, "",
                       "writable by group or others (mode " + ModeString(st.st_mode) +
                           "); run chmod go-w on it"});
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxConfigBytes) {
    errors->push_back({path, 0, "",
                       "larger than " + std::to_string(kMaxConfigBytes) + " bytes"});
    return false;
  }
  text->clear();
  char buf[8192];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      errors->push_back({path, 0, "", std::string("cannot read: ") + std::strerror(errno)});
      ok = false;
      break;
    }
    if (n == 0) break;
    text->append(buf, static_cast<std::size_t>(n));
    if (text->size() > kMaxConfigBytes) {
      errors->push_back({path, 0, "",
                         "larger than " + std::to_string(kMaxConfigBytes) + " bytes"});
      ok = false;
      break;
    }
  }
  return ok;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// vsftpd's options and what keepftpd does with them.

namespace {

// Options keepftpd parses but whose effect differs from vsftpd's.
struct MappedNote {
  std::string_view name;
  std::string_view note;
};
constexpr MappedNote kMappedNotes[] = {
    {"log_ftp_protocol", "commands and replies go to the journal (priority debug), not to vsftpd_log_file"},
    {"ssl_sslv2", "accepted and ignored: keepftpd negotiates only TLS 1.2 and 1.3"},
    {"ssl_sslv3", "accepted and ignored: keepftpd negotiates only TLS 1.2 and 1.3"},
    {"ssl_tlsv1", "accepted and ignored: keepftpd negotiates only TLS 1.2 and 1.3"},
    {"ssl_tlsv1_1", "accepted and ignored: keepftpd negotiates only TLS 1.2 and 1.3"},
    {"ssl_tlsv1_2", "accepted and ignored: TLS 1.2 and 1.3 are always on"},
    {"syslog_enable",
     "vsftpd's lines go to syslog as with vsftpd, under the identifier keepftpd; and without a journal keepftpd's own records go there too"},
    {"vsftpd_log_file",
     "vsftpd's lines; a login refused at USER is a FAIL LOGIN line too, and quotes and C1 controls in names are written as '?' (UTF-8 is kept)"},
    {"run_as_launching_user",
     "YES is keepftpd's rootless mode: started by a normal user (never root), every process runs "
     "as that user, and the jails still chroot, inside unprivileged user namespaces (vsftpd's "
     "could not); only that user may log in besides anonymous, and options that need root are "
     "refused"},
};

std::string VsftpdNote(std::string_view name, std::string_view vsftpd_default) {
  for (const MappedNote& m : kMappedNotes) {
    if (m.name == name) return std::string(m.note);
  }
  std::string ours = KeepftpdDefault(name);
  if (ours != vsftpd_default) {
    return "keepftpd's default is " + (ours.empty() ? std::string("unset") : ours);
  }
  return "";
}

}  // namespace

std::vector<std::string_view> KeepftpdOptionNames() {
  std::vector<std::string_view> names;
  for (const BoolRow& r : kBoolRows) names.push_back(r.name);
  for (const UintRow& r : kUintRows) names.push_back(r.name);
  for (const StrRow& r : kStrRows) names.push_back(r.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::string KeepftpdDefault(std::string_view name) {
  const Config defaults;
  if (const BoolRow* row = FindRow(kBoolRows, name)) return defaults.*(row->field) ? "YES" : "NO";
  if (const UintRow* row = FindRow(kUintRows, name)) {
    unsigned v = defaults.*(row->field);
    if (row->kind == UintKind::kOctal) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "0%o", v);
      return buf;
    }
    return std::to_string(v);
  }
  if (const StrRow* row = FindRow(kStrRows, name)) return std::string(row->default_value);
  return "";
}

const char* VsftpdStatusName(VsftpdStatus status) {
  switch (status) {
    case VsftpdStatus::kImplemented: return "implemented";
    case VsftpdStatus::kMapped: return "mapped";
    case VsftpdStatus::kRefused: return "refused";
  }
  return "unknown";
}

const std::vector<VsftpdOption>& VsftpdOptions() {
  static const std::vector<VsftpdOption> options = [] {
    std::vector<VsftpdOption> v{
#define VSFTPD_OPTION(name, type, vsftpd_default, sample) {#name, #type[0], vsftpd_default, sample},
#include "vsftpd_options.def"
#undef VSFTPD_OPTION
    };
    for (VsftpdOption& o : v) {
      if (const InertOption* inert = FindInert(o.name)) {
        o.status = VsftpdStatus::kMapped;
        o.note = std::string(inert->accepted ? "YES is accepted and ignored; NO is refused: "
                                             : "NO is accepted and ignored; YES is refused: ") +
                 std::string(inert->yes_message);
      } else if (const AcceptedOption* accepted = FindAccepted(o.name)) {
        o.status = VsftpdStatus::kMapped;
        o.note = std::string(accepted->note);
      } else if (const RefusedOption* refused = FindRefused(o.name)) {
        o.status = VsftpdStatus::kRefused;
        o.note = std::string(refused->message);
      } else {
        bool mapped = false;
        for (const MappedNote& m : kMappedNotes) mapped = mapped || m.name == o.name;
        o.status = mapped ? VsftpdStatus::kMapped : VsftpdStatus::kImplemented;
        o.note = VsftpdNote(o.name, o.vsftpd_default);
      }
    }
    return v;
  }();
  return options;
}

std::string ConfigError::ToString() const {
  std::string out = file;
  if (line != 0) out += (out.empty() ? "line " : ":") + std::to_string(line);
  if (!option.empty()) out += (out.empty() ? "" : ": ") + option;
  if (!message.empty()) out += (out.empty() ? "" : ": ") + message;
  return out;
}

Config ParseConfig(std::string_view text, std::string_view file_name,
                   std::vector<ConfigError>* errors, const Config& base) {
  Parser parser(file_name, errors, base);
  unsigned line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++line_number;
    std::string_view line = text.substr(start, end - start);
    if (line.find('\0') != std::string_view::npos) {
      errors->push_back({std::string(file_name), line_number, "", "line contains a NUL byte"});
    } else {
      parser.ParseLine(line_number, line);
    }
    start = end + 1;
  }
  parser.CheckCrossOptions();
  return parser.config();
}

Config LoadConfigFile(const std::string& path, std::vector<ConfigError>* errors,
                      const Config& base) {
  std::string text;
  std::vector<OwnerProblem> owners;
  const bool read_ok = ReadConfigFile(path, &text, errors, &owners);
  CheckDirectory(path, DirName(path), errors, &owners);
  // A symlinked file (common under /etc) must also sit in a safe directory where it really is.
  if (char* real = realpath(path.c_str(), nullptr)) {
    std::string real_dir = DirName(real);
    std::free(real);
    if (real_dir != DirName(path)) CheckDirectory(path, real_dir, errors, &owners);
  }
  Config config = read_ok ? ParseConfig(text, path, errors, base) : base;
  // Rootless, the launching user's own files are as trusted as root's: only they and root can
  // change them.
  const bool rootless = read_ok && config.run_as_launching_user && geteuid() != 0;
  for (OwnerProblem& p : owners) {
    if (rootless && p.owner == geteuid()) continue;
    if (rootless) {
      std::string& m = p.error.message;
      const std::string_view kRoot = "not owned by root";
      std::size_t at = m.find(kRoot);
      if (at != std::string::npos) {
        m.replace(at, kRoot.size(),
                  "not owned by root or by you (uid " + std::to_string(geteuid()) + ")");
      }
    }
    errors->push_back(std::move(p.error));
  }
  return config;
}

}  // namespace keepftpd
