// Tests for src/common/config.cc: vsftpd.conf syntax, defaults, every kind of error and the checks
// LoadConfigFile makes on the file and its directory.
#include "config.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace keepftpd {
namespace {

struct Parsed {
  Config config;
  std::vector<ConfigError> errors;
};

Parsed Parse(std::string_view text) {
  Parsed p;
  p.config = ParseConfig(text, "test.conf", &p.errors);
  return p;
}

// The single error of a text that must have exactly one, printed.
std::string OnlyError(std::string_view text) {
  Parsed p = Parse(text);
  CHECK_OR_RETURN(p.errors.size() == 1, "");
  return p.errors[0].ToString();
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_CASE("defaults are vsftpd's") {
  Config c;
  CHECK(c.anonymous_enable);
  CHECK_FALSE(c.no_anon_password);
  CHECK(c.pasv_enable);
  CHECK(c.port_enable);
  CHECK_FALSE(c.port_promiscuous);
  CHECK_FALSE(c.pasv_promiscuous);
  CHECK(c.download_enable);
  CHECK(c.dirlist_enable);
  CHECK_FALSE(c.hide_ids);
  CHECK_FALSE(c.force_dot_files);
  CHECK_FALSE(c.use_localtime);
  CHECK_FALSE(c.dirmessage_enable);
  CHECK(c.seccomp_sandbox);
  CHECK(c.pasv_min_port == 0);
  CHECK(c.pasv_max_port == 0);
  CHECK(c.idle_session_timeout == 300);
  CHECK(c.data_connection_timeout == 300);
  CHECK(c.accept_timeout == 60);
  CHECK(c.connect_timeout == 60);
  CHECK(c.anon_root.empty());
  CHECK(c.ftp_username == "ftp");
  CHECK(c.nopriv_user == "nobody");
  CHECK(c.secure_chroot_dir == "/usr/share/empty");
  CHECK(c.ftpd_banner.empty());
  CHECK(c.banner_file.empty());
  CHECK(c.pasv_address.empty());
  CHECK(c.message_file == ".message");
  CHECK(c.cmds_allowed.empty());
  CHECK(c.cmds_denied.empty());
  CHECK(c.deny_file.empty());
  CHECK(c.hide_file.empty());
}

TEST_CASE("an empty file, comments and blank lines give the defaults") {
  Parsed p = Parse("# comment\n\n   \n\t\n#listen_port=21\n  # indented comment\n");
  CHECK(p.errors.empty());
  CHECK(p.config.anonymous_enable);
  CHECK(p.config.idle_session_timeout == 300);
}

TEST_CASE("valid options of every type are set") {
  Parsed p = Parse(
      "anonymous_enable=NO\n"
      "pasv_min_port=30000\n"
      "pasv_max_port=30100\n"
      "idle_session_timeout=600\n"
      "ftpd_banner=Welcome  to  the archive \n"
      "anon_root=/srv/ftp\n"
      "pasv_address=192.0.2.7\n"
      "cmds_denied=STOR,dele\n"
      "hide_file={*.mp3,.private}\n"
      "deny_file=*.bak\n");
  CHECK(p.errors.empty());
  CHECK_FALSE(p.config.anonymous_enable);
  CHECK(p.config.pasv_min_port == 30000);
  CHECK(p.config.pasv_max_port == 30100);
  CHECK(p.config.idle_session_timeout == 600);
  CHECK(p.config.ftpd_banner == "Welcome  to  the archive ");  // kept exactly
  CHECK(p.config.anon_root == "/srv/ftp");
  CHECK(p.config.pasv_address == "192.0.2.7");
  CHECK(p.config.cmds_denied == "STOR,dele");
  CHECK(p.config.hide_file == "{*.mp3,.private}");
  CHECK(p.config.deny_file == "*.bak");
}

TEST_CASE("booleans accept YES/NO/TRUE/FALSE/1/0 in any case") {
  for (const char* yes : {"YES", "yes", "Yes", "TRUE", "true", "1"}) {
    Parsed p = Parse(std::string("hide_ids=") + yes + "\n");
    CHECK(p.errors.empty());
    CHECK(p.config.hide_ids);
  }
  for (const char* no : {"NO", "no", "nO", "FALSE", "False", "0"}) {
    Parsed p = Parse(std::string("pasv_enable=") + no + "\n");
    CHECK(p.errors.empty());
    CHECK_FALSE(p.config.pasv_enable);
  }
}

TEST_CASE("a bad boolean says what is expected") {
  CHECK(OnlyError("\nhide_ids=maybe\n") == "test.conf:2: hide_ids: expected YES or NO, got 'maybe'");
  CHECK(Contains(OnlyError("hide_ids=\n"), "missing value; expected YES or NO"));
  CHECK(Contains(OnlyError("hide_ids= YES\n"), "no spaces"));
}

TEST_CASE("CRLF line ends are accepted and the CR is not part of the value") {
  Parsed p = Parse("anonymous_enable=NO\r\nftpd_banner=Hello\r\nidle_session_timeout=42\r\n");
  CHECK(p.errors.empty());
  CHECK_FALSE(p.config.anonymous_enable);
  CHECK(p.config.ftpd_banner == "Hello");
  CHECK(p.config.idle_session_timeout == 42);
}

TEST_CASE("the last line needs no newline") {
  Parsed p = Parse("connect_timeout=5");
  CHECK(p.errors.empty());
  CHECK(p.config.connect_timeout == 5);
}

TEST_CASE("numbers are strict decimals within the option's range") {
  CHECK(OnlyError("idle_session_timeout=0\n") ==
        "test.conf:1: idle_session_timeout: expected a number from 1 to 86400, got '0'");
  CHECK(Contains(OnlyError("idle_session_timeout=86401\n"), "expected a number from 1 to 86400"));
  CHECK(Contains(OnlyError("accept_timeout=-5\n"), "expected a number from 1 to 86400"));
  CHECK(Contains(OnlyError("accept_timeout=5s\n"), "expected a number from 1 to 86400"));
  CHECK(Contains(OnlyError("accept_timeout=99999999999999999999999\n"), "from 1 to 86400"));
  CHECK(Contains(OnlyError("accept_timeout=\n"), "missing value"));
  CHECK(Contains(OnlyError("pasv_max_port=65536\n"), "expected a number from 0 to 65535"));
  CHECK(Contains(OnlyError("accept_timeout=060\n"), "octal"));
  Parsed p = Parse("accept_timeout=86400\npasv_min_port=0\n");
  CHECK(p.errors.empty());
  CHECK(p.config.accept_timeout == 86400);
}

TEST_CASE("passive ports must be 0 or unprivileged, and min <= max") {
  CHECK(Contains(OnlyError("pasv_min_port=21\n"), "pasv_min_port: expected 0 (any port) or"));
  CHECK(Contains(OnlyError("pasv_max_port=1023\n"), "from 1024 to 65535"));
  CHECK(OnlyError("pasv_min_port=40000\npasv_max_port=30000\n") ==
        "test.conf:1: pasv_min_port: pasv_min_port (40000) is greater than pasv_max_port "
        "(30000, line 2)");
  CHECK(Parse("pasv_min_port=40000\n").errors.empty());  // max 0 = no upper limit
  CHECK(Parse("pasv_min_port=30000\npasv_max_port=30000\n").errors.empty());
}

TEST_CASE("string options are validated") {
  CHECK(Contains(OnlyError("anon_root=srv/ftp\n"), "anon_root: expected an absolute path"));
  CHECK(Contains(OnlyError("secure_chroot_dir=empty\n"), "expected an absolute path"));
  CHECK(Contains(OnlyError("banner_file=banner.txt\n"), "expected an absolute path"));
  CHECK(Contains(OnlyError("secure_chroot_dir=\n"), "must not be empty"));
  CHECK(Contains(OnlyError("ftp_username=\n"), "must not be empty"));
  CHECK(Contains(OnlyError("pasv_address=ftp.example.org\n"), "numeric IPv4 address"));
  CHECK(Contains(OnlyError("pasv_address=2001:db8::1\n"), "expected an IPv4 address"));
  CHECK(Contains(OnlyError("pasv_address=ftp.example.org\n"), "pasv_addr_resolve=YES"));
  CHECK(Parse("pasv_addr_resolve=YES\npasv_address=ftp.example.org\n").errors.empty());
  CHECK(Parse("pasv_address=ftp.example.org\npasv_addr_resolve=YES\n").errors.empty());
  CHECK(Contains(OnlyError("cmds_allowed=USER, PASS\n"), "' PASS' is not an FTP command"));
  CHECK(Contains(OnlyError("cmds_denied=STOR,,DELE\n"), "empty entry"));
  CHECK(Contains(OnlyError("deny_file={*.mp3\n"), "unbalanced"));
  CHECK(Contains(OnlyError("deny_file={}\n"), "empty list"));
  CHECK(Contains(OnlyError("hide_file=*.mp3}\n"), "misplaced"));
  CHECK(Contains(OnlyError("hide_file={a,{b}}\n"), "misplaced"));
  CHECK(Contains(OnlyError("hide_file=*.mp3,*.mov\n"), "braces"));
  CHECK(Contains(OnlyError("ftpd_banner=a\x01z\n"), "control character"));
  Parsed p = Parse("anon_root=\nbanner_file=\n");  // empty = unset
  CHECK(p.errors.empty());
}

TEST_CASE("options with a parsed form keep it, so nothing parses them again") {
  Parsed p = Parse(
      "deny_file={*.mp3,.private}\nhide_file=*.bak\ndownload_file={*.iso}\n"
      "upload_file={*.txt}\nproxy_trusted_addresses=10.0.0.0/8,192.0.2.7\n"
      "pasv_address_map=10.0.0.0/8=10.1.2.3,0.0.0.0/0=198.51.100.9\npasv_address=192.0.2.1\n");
  CHECK_OR_RETURN(p.errors.empty());
  const Config& c = p.config;
  CHECK(c.deny_filter.MatchesAnyComponent("/music/a.mp3"));
  CHECK(c.deny_filter.Matches(".private"));
  CHECK_FALSE(c.deny_filter.Matches("a.txt"));
  CHECK(c.hide_filter.Matches("x.bak"));
  CHECK(c.download_filter.Matches("cd.iso"));
  CHECK(c.upload_filter.Matches("notes.txt"));
  Result<SockAddr> inside = SockAddr::FromHostString("10.9.9.9", 0);
  Result<SockAddr> outside = SockAddr::FromHostString("203.0.113.5", 0);
  CHECK_OR_RETURN(inside.ok() && outside.ok());
  CHECK(InNetworks(c.proxy_trusted_networks, *inside));
  CHECK_FALSE(InNetworks(c.proxy_trusted_networks, *outside));
  const SockAddr* mapped = PasvAddressFor(c.pasv_address_rules, *inside);
  CHECK_OR_RETURN(mapped != nullptr);
  CHECK(mapped->HostString() == "10.1.2.3");
  CHECK(c.pasv_address_ipv4.has_value());
  CHECK(c.pasv_address_ipv4->HostString() == "192.0.2.1");
  // With pasv_addr_resolve the name is looked up later: no numeric form.
  Parsed resolve = Parse("pasv_addr_resolve=YES\npasv_address=ftp.example.org\n");
  CHECK(!resolve.config.pasv_address_ipv4.has_value());
  // A user_config_dir file's options are parsed over the main ones.
  Parsed user = Parse("deny_file=*.exe\n");
  std::vector<ConfigError> errors;
  Config over = ParseConfig("hide_file=*.tmp\n", "user.conf", &errors, user.config);
  CHECK(errors.empty());
  CHECK(over.deny_filter.Matches("a.exe"));
  CHECK(over.hide_filter.Matches("a.tmp"));
  // An empty value is unset, as for every string option, and clears what a base set.
  Parsed empty = Parse("proxy_trusted_addresses=\npasv_address_map=\ndeny_file=\n");
  CHECK(empty.errors.empty());
  Parsed full = Parse("proxy_trusted_addresses=10.0.0.0/8\npasv_address_map=0.0.0.0/0=10.1.2.3\n"
                      "deny_file=*.exe\n");
  Config cleared = ParseConfig("proxy_trusted_addresses=\npasv_address_map=\ndeny_file=\n",
                               "user.conf", &errors, full.config);
  CHECK(errors.empty());
  CHECK(cleared.proxy_trusted_networks.empty());
  CHECK(cleared.pasv_address_rules.empty());
  CHECK(cleared.deny_filter.empty());
  // A broken map is an error of the file, not a map quietly ignored later.
  CHECK(Contains(OnlyError("pasv_address_map=10.0.0.0/8\n"), "pasv_address_map:"));
  CHECK(Contains(OnlyError("proxy_trusted_addresses=10.0.0.0/33\n"), "proxy_trusted_addresses:"));
}

TEST_CASE("a line without '=' is an error") {
  CHECK(OnlyError("anonymous_enable\n") ==
        "test.conf:1: anonymous_enable: missing '=': expected option=value, got "
        "'anonymous_enable'");
  CHECK(OnlyError("some junk\n") ==
        "test.conf:1: missing '=': expected option=value, got 'some junk'");
  CHECK(OnlyError("=YES\n") == "test.conf:1: missing option name before '='");
}

TEST_CASE("spaces around '=' are refused with a hint") {
  CHECK(OnlyError("hide_ids = YES\n") ==
        "test.conf:1: hide_ids: spaces before '=' are not allowed; write hide_ids=value");
}

TEST_CASE("leading white space before the option name is skipped, like vsftpd") {
  Parsed p = Parse("  hide_ids=YES\n");
  CHECK(p.errors.empty());
  CHECK(p.config.hide_ids);
}

TEST_CASE("unknown options are reported, with a suggestion when one is close") {
  CHECK(OnlyError("frobnicate=YES\n") == "test.conf:1: frobnicate: unknown option");
  CHECK(OnlyError("anonymous_enabel=YES\n") ==
        "test.conf:1: anonymous_enabel: unknown option; did you mean anonymous_enable?");
  CHECK(Contains(OnlyError("HIDE_IDS=YES\n"), "did you mean hide_ids?"));
  CHECK(Contains(OnlyError("allow_writable_chroot=YES\n"), "did you mean allow_writeable_chroot?"));
}

TEST_CASE("a duplicate option names the earlier line") {
  Parsed p = Parse("hide_ids=YES\n# x\nhide_ids=NO\n");
  CHECK_OR_RETURN(p.errors.size() == 1);
  CHECK(p.errors[0].ToString() == "test.conf:3: hide_ids: duplicate option; first set on line 1");
  CHECK(p.config.hide_ids);  // the first one stays
}

TEST_CASE("listen, listen_ipv6, background and tcp_wrappers: NO is inert, YES is refused") {
  Parsed p = Parse("listen=NO\nlisten_ipv6=no\nbackground=0\ntcp_wrappers=NO\n");
  CHECK(p.errors.empty());
  for (const char* name : {"listen", "listen_ipv6", "background"}) {
    std::string e = OnlyError(std::string(name) + "=YES\n");
    CHECK(Contains(e, std::string("test.conf:1: ") + name + ": "));
    CHECK(Contains(e, "ftp.socket"));
    CHECK(Contains(e, "xinetd"));
    CHECK(Contains(e, "set it to NO or remove the line"));
  }
  CHECK(Contains(OnlyError("listen=perhaps\n"), "expected YES or NO"));
}

TEST_CASE("per-daemon options are refused with their replacement") {
  CHECK(Contains(OnlyError("listen_port=21\n"), "listen_port: "));
  CHECK(Contains(OnlyError("listen_port=21\n"), "ListenStream= in ftp.socket"));
  CHECK(Contains(OnlyError("listen_address=192.0.2.1\n"), "ListenStream= with the address"));
  CHECK(Contains(OnlyError("listen_address6=::1\n"), "ListenStream= with the address"));
  CHECK(Contains(OnlyError("max_clients=10\n"), "MaxConnections= in ftp.socket (xinetd: instances)"));
  CHECK(Contains(OnlyError("max_per_ip=2\n"), "MaxConnectionsPerSource="));
  CHECK(Contains(OnlyError("max_per_ip=2\n"), "per_source"));
  CHECK(Contains(OnlyError("tcp_wrappers=YES\n"), "IPAddressAllow=/IPAddressDeny="));
  CHECK(Contains(OnlyError("one_process_model=YES\n"), "privilege separation"));
}

TEST_CASE("run_as_launching_user refuses what needs root, naming the option and the line") {
  CHECK(Parse("run_as_launching_user=YES\n").errors.empty());
  CHECK(OnlyError("run_as_launching_user=YES\nsession_support=YES\n") ==
        "test.conf:2: session_support: cannot be used with run_as_launching_user=YES (line 1): "
        "PAM sessions and utmp/wtmp records need root; set it to NO");
  CHECK(Contains(OnlyError("chown_uploads=YES\nrun_as_launching_user=YES\n"),
                 "test.conf:1: chown_uploads: cannot be used with run_as_launching_user=YES (line 2)"));
  CHECK(Contains(OnlyError("run_as_launching_user=YES\nconnect_from_port_20=YES\n"),
                 "test.conf:2: connect_from_port_20: cannot be used with run_as_launching_user=YES "
                 "(line 1): active data connections from port 20 need root"));
  CHECK(Contains(OnlyError("run_as_launching_user=YES\nconnect_from_port_20=YES\nftp_data_port=1000\n"),
                 "test.conf:3: ftp_data_port: "));
  CHECK(Parse("run_as_launching_user=YES\nconnect_from_port_20=YES\nftp_data_port=2020\n")
            .errors.empty());
  // Without it, the same options are fine.
  CHECK(Parse("session_support=YES\nchown_uploads=YES\nconnect_from_port_20=YES\n").errors.empty());
}

TEST_CASE("run_as_launching_user keeps failed logins in the user's runtime directory") {
  CHECK(Parse("run_as_launching_user=YES\n").config.login_state_dir ==
        "/run/user/" + std::to_string(getuid()) + "/keepftpd");
  CHECK(Parse("run_as_launching_user=YES\nlogin_state_dir=/tmp/x\n").config.login_state_dir ==
        "/tmp/x");
  CHECK(Parse("run_as_launching_user=YES\nlogin_state_dir=\n").config.login_state_dir.empty());
  CHECK(Parse("anonymous_enable=YES\n").config.login_state_dir == "/run/keepftpd");
}

TEST_CASE("every error is reported, parsing goes on") {
  Parsed p = Parse(
      "anonymous_enable=NO\n"
      "bogus_option=1\n"
      "hide_ids=perhaps\n"
      "listen=YES\n"
      "ftp_data_port=YES\n"
      "accept_timeout=0\n"
      "hide_ids=YES\n"
      "use_localtime=YES\n");
  CHECK_OR_RETURN(p.errors.size() == 6);
  CHECK(p.errors[0].line == 2);
  CHECK(p.errors[0].option == "bogus_option");
  CHECK(p.errors[1].line == 3);
  CHECK(p.errors[2].line == 4);
  CHECK(p.errors[3].line == 5);
  CHECK(p.errors[4].line == 6);
  CHECK(p.errors[5].line == 7);
  CHECK(p.errors[5].ToString() == "test.conf:7: hide_ids: duplicate option; first set on line 3");
  CHECK_FALSE(p.config.anonymous_enable);
  CHECK(p.config.use_localtime);
}

TEST_CASE("ConfigError::ToString leaves out empty parts") {
  CHECK(ConfigError{"f.conf", 3, "opt", "msg"}.ToString() == "f.conf:3: opt: msg");
  CHECK(ConfigError{"f.conf", 0, "", "msg"}.ToString() == "f.conf: msg");
  CHECK(ConfigError{"f.conf", 4, "", "msg"}.ToString() == "f.conf:4: msg");
  CHECK(ConfigError{"f.conf", 0, "opt", "msg"}.ToString() == "f.conf: opt: msg");
  CHECK(ConfigError{"", 2, "opt", "msg"}.ToString() == "line 2: opt: msg");
}

// ---------------------------------------------------------------------------------------------
// LoadConfigFile: needs root to create root-owned files and to chown them away.

class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/keepftpd-config-test.XXXXXX";
    if (mkdtemp(templ) != nullptr) path_ = templ;
  }
  ~TempDir() {
    if (path_.empty()) return;
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) {
    std::string file = path_ + "/" + name;
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    chmod(file.c_str(), 0644);
    files_.push_back(file);
    return file;
  }
  void Track(const std::string& file) { files_.push_back(file); }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

bool AnyErrorContains(const std::vector<ConfigError>& errors, std::string_view needle) {
  for (const ConfigError& e : errors) {
    if (Contains(e.ToString(), needle)) return true;
  }
  return false;
}

TEST_CASE("LoadConfigFile checks the file and its directory") {
  if (geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  TempDir dir;
  CHECK_OR_RETURN(!dir.path().empty());
  const std::string file = dir.Write("keepftpd.conf", "anonymous_enable=NO\r\nhide_ids=YES\n");

  SUBCASE("a root-owned 0644 file in a root-owned 0700 directory loads") {
    std::vector<ConfigError> errors;
    Config c = LoadConfigFile(file, &errors);
    CHECK(errors.empty());
    CHECK_FALSE(c.anonymous_enable);
    CHECK(c.hide_ids);
  }
  SUBCASE("parse errors carry the path and line") {
    const std::string bad = dir.Write("bad.conf", "hide_ids=YES\nnonsense=1\n");
    std::vector<ConfigError> errors;
    LoadConfigFile(bad, &errors);
    CHECK_OR_RETURN(errors.size() == 1);
    CHECK(errors[0].ToString() == bad + ":2: nonsense: unknown option");
  }
  SUBCASE("a world-writable file is refused") {
    CHECK_OR_RETURN(chmod(file.c_str(), 0666) == 0);
    std::vector<ConfigError> errors;
    LoadConfigFile(file, &errors);
    CHECK_OR_RETURN(errors.size() == 1);
    CHECK(errors[0].line == 0);
    CHECK(errors[0].ToString() == file + ": writable by group or others (mode 0666); run chmod "
                                         "go-w on it");
  }
  SUBCASE("a group-writable file is refused") {
    CHECK_OR_RETURN(chmod(file.c_str(), 0664) == 0);
    std::vector<ConfigError> errors;
    LoadConfigFile(file, &errors);
    CHECK(AnyErrorContains(errors, "writable by group or others"));
  }
  SUBCASE("a file not owned by root is refused") {
    CHECK_OR_RETURN(chown(file.c_str(), 1234, 0) == 0);
    std::vector<ConfigError> errors;
    LoadConfigFile(file, &errors);
    CHECK_OR_RETURN(errors.size() == 1);
    CHECK(errors[0].ToString() == file + ": not owned by root (owner uid 1234); run chown root: on it");
  }
  SUBCASE("a directory writable by others is refused") {
    CHECK_OR_RETURN(chmod(dir.path().c_str(), 0777) == 0);
    std::vector<ConfigError> errors;
    LoadConfigFile(file, &errors);
    CHECK_OR_RETURN(errors.size() == 1);
    CHECK(Contains(errors[0].ToString(), "directory " + dir.path() +
                                             " is writable by group or others (mode 0777)"));
    chmod(dir.path().c_str(), 0700);
  }
  SUBCASE("a directory not owned by root is refused") {
    CHECK_OR_RETURN(chown(dir.path().c_str(), 1234, 0) == 0);
    std::vector<ConfigError> errors;
    LoadConfigFile(file, &errors);
    CHECK(AnyErrorContains(errors, "is not owned by root (owner uid 1234)"));
    CHECK_OR_RETURN(chown(dir.path().c_str(), 0, 0) == 0);
  }
  SUBCASE("a symlink to a good file in a good directory is accepted") {
    const std::string link = dir.path() + "/link.conf";
    CHECK_OR_RETURN(symlink(file.c_str(), link.c_str()) == 0);
    dir.Track(link);
    std::vector<ConfigError> errors;
    LoadConfigFile(link, &errors);
    CHECK(errors.empty());
  }
  SUBCASE("a missing file says why") {
    std::vector<ConfigError> errors;
    LoadConfigFile(dir.path() + "/missing.conf", &errors);
    CHECK_OR_RETURN(errors.size() == 1);
    CHECK(errors[0].ToString() ==
          dir.path() + "/missing.conf: cannot open: No such file or directory");
  }
  SUBCASE("a directory is not a config file") {
    std::vector<ConfigError> errors;
    LoadConfigFile(dir.path(), &errors);
    CHECK(AnyErrorContains(errors, dir.path() + ": not a regular file"));
  }
  SUBCASE("a file larger than kMaxConfigBytes is refused") {
    const std::string big = dir.Write("big.conf", std::string(kMaxConfigBytes + 1, '#'));
    std::vector<ConfigError> errors;
    LoadConfigFile(big, &errors);
    CHECK_OR_RETURN(errors.size() == 1);
    CHECK(Contains(errors[0].ToString(), "larger than 100000 bytes"));
  }
}

// ---------------------------------------------------------------------------------------------
// Documentation coverage: every option of tunables.def is described in keepftpd.conf(5).

#ifdef KEEPFTPD_SOURCE_DIR
TEST_CASE("every option of tunables.def has a .B entry in keepftpd.conf(5)") {
  std::ifstream in(std::string(KEEPFTPD_SOURCE_DIR) + "/man/keepftpd.conf.5");
  CHECK_OR_RETURN(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string page = "\n" + ss.str();
#define KEEPFTPD_BOOL(name, def, vsftpd_default, help) CHECK(Contains(page, "\n.B " #name "\n"));
#define KEEPFTPD_UINT(name, def, min, max, kind, help) CHECK(Contains(page, "\n.B " #name "\n"));
#define KEEPFTPD_STR(name, def, kind, help) CHECK(Contains(page, "\n.B " #name "\n"));
#include "tunables.def"
#undef KEEPFTPD_BOOL
#undef KEEPFTPD_UINT
#undef KEEPFTPD_STR
}
#endif

}  // namespace
}  // namespace keepftpd

namespace keepftpd {
namespace {

TEST_CASE("umasks and modes are octal, as in vsftpd") {
  std::vector<ConfigError> errors;
  Config c = ParseConfig("local_umask=022\nanon_umask=0\nfile_open_mode=0644\n", "t.conf", &errors);
  CHECK(errors.empty());
  CHECK(c.local_umask == 022);
  CHECK(c.anon_umask == 0);
  CHECK(c.file_open_mode == 0644);
  Config d = ParseConfig("", "t.conf", &errors);
  CHECK(d.local_umask == 077);
  CHECK(d.file_open_mode == 0666);
  errors.clear();
  ParseConfig("local_umask=089\n", "t.conf", &errors);
  CHECK(errors.size() == 1);
  errors.clear();
  ParseConfig("file_open_mode=1777\n", "t.conf", &errors);
  CHECK(errors.size() == 1);
}

TEST_CASE("vsftpd options keepftpd already behaves like are accepted and ignored") {
  for (const char* line : {"async_abor_enable=YES\n", "async_abor_enable=NO\n", "no_log_lock=YES\n",
                           "trans_chunk_size=8192\n", "utf8_filesystem=YES\n",
                           "ecdh_param_file=/etc/ssl/ecdh.pem\n", "ptrace_sandbox=NO\n",
                           "http_enable=NO\n", "ftp_enable=YES\n"}) {
    INFO(line);
    CHECK(Parse(line).errors.empty());
  }
  // ... once the value is one vsftpd would take.
  CHECK(Contains(OnlyError("async_abor_enable=maybe\n"), "expected YES or NO"));
  CHECK(Contains(OnlyError("trans_chunk_size=big\n"), "expected a number"));
  CHECK(Contains(OnlyError("ptrace_sandbox=YES\n"), "seccomp"));
  CHECK(Contains(OnlyError("http_enable=YES\n"), "FTP only"));
  CHECK(Contains(OnlyError("ftp_enable=NO\n"), "FTP cannot be turned off"));
  CHECK(Contains(OnlyError("dsa_cert_file=/etc/ssl/dsa.pem\n"), "use rsa_cert_file"));
}

TEST_CASE("proxy_protocol needs the balancers' addresses, and refuses implicit_ssl") {
  std::vector<ConfigError> errors;
  ParseConfig("proxy_protocol=YES\n", "test.conf", &errors);
  CHECK(errors.size() == 1);
  CHECK(Contains(errors[0].ToString(), "needs proxy_trusted_addresses"));
  CHECK(Parse("proxy_protocol=YES\nproxy_trusted_addresses=10.0.0.5,192.0.2.0/24,::1\n")
            .errors.empty());
  CHECK(Contains(OnlyError("proxy_trusted_addresses=lb.example.org\n"),
                 "not an address or network"));
  CHECK(Contains(OnlyError("proxy_trusted_addresses=10.0.0.0/40\n"), "bad prefix length"));
}

TEST_CASE("pasv_address_map: NETWORK=ADDRESS entries, a bad one named with file, line and option") {
  Parsed p = Parse("pasv_address=198.51.100.7\n"
                   "pasv_address_map=10.0.0.0/8=10.0.0.5, 192.168.0.0/16=192.168.1.5\n");
  CHECK(p.errors.empty());
  CHECK(p.config.pasv_address_map == "10.0.0.0/8=10.0.0.5, 192.168.0.0/16=192.168.1.5");
  CHECK(Parse("pasv_address_map=\n").errors.empty());  // unset
  CHECK(OnlyError("# LAN clients\npasv_address_map=10.0.0.0/8\n") ==
        "test.conf:2: pasv_address_map: expected NETWORK=ADDRESS, like 10.0.0.0/8=10.0.0.5: "
        "\"10.0.0.0/8\"");
  CHECK(OnlyError("pasv_address_map=10.0.0.0/8=lan.example.org\n") ==
        "test.conf:1: pasv_address_map: not an IPv4 address (PASV can announce no other): "
        "\"lan.example.org\"");
  CHECK(Contains(OnlyError("pasv_address_map=10.0.0.0/8=10.0.0.5,lan=10.0.0.6\n"),
                 "not an address or network: \"lan\""));
}

TEST_CASE("download_file and upload_file are patterns like deny_file") {
  Parsed p = Parse("download_file={*.txt,*.iso}\nupload_file=*.txt\n");
  CHECK(p.errors.empty());
  CHECK(p.config.download_file == "{*.txt,*.iso}");
  CHECK(Contains(OnlyError("download_file={*.txt\n"), "download_file"));
}

TEST_CASE("every vsftpd option is known, sorted, and has a status that matches the parser") {
  const std::vector<VsftpdOption>& all = VsftpdOptions();
  CHECK(all.size() >= 139);
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].name < all[i].name);
  for (const VsftpdOption& o : all) {
    INFO(o.name);
    CHECK((o.type == 'B' || o.type == 'U' || o.type == 'S'));
    CHECK(o.sample != o.vsftpd_default);
    std::string at_default = std::string(o.name) + "=" +
                             std::string(o.vsftpd_default.empty() ? "x" : o.vsftpd_default) + "\n";
    Parsed p = Parse(at_default);
    bool unknown = false;
    for (const ConfigError& e : p.errors) unknown = unknown || e.message.find("unknown") == 0;
    CHECK_FALSE(unknown);
    if (o.status == VsftpdStatus::kRefused) {
      CHECK_FALSE(Parse(std::string(o.name) + "=" + std::string(o.sample) + "\n").errors.empty());
      const bool refused_without_reason = o.status == VsftpdStatus::kRefused && o.note.empty();
      CHECK_FALSE(refused_without_reason);
    }
  }
}

TEST_CASE("keepftpd's own options are exactly the tunables that are not vsftpd's") {
  std::vector<std::string_view> own;
  for (std::string_view name : KeepftpdOptionNames()) {
    bool vsftpd = false;
    for (const VsftpdOption& o : VsftpdOptions()) vsftpd = vsftpd || o.name == name;
    if (!vsftpd) own.push_back(name);
  }
  // Adding an option of keepftpd's own? List it here, and in keepftpd.conf(5) as such.
  const std::vector<std::string_view> expected = {
      "atomic_uploads", "ban_max_login_fails", "ban_time", "ban_window", "chroot_start_dir",
      "login_state_dir", "max_command_rate", "max_delay_failed_login", "pasv_address_map",
      "proxy_protocol", "proxy_trusted_addresses", "seccomp_log_only", "ssl_sni_hostname"};
  CHECK(own == expected);
}

TEST_CASE("defaults that differ from vsftpd's are noted") {
  for (const VsftpdOption& o : VsftpdOptions()) {
    if (o.status != VsftpdStatus::kImplemented) continue;
    INFO(o.name);
    const bool same_default = KeepftpdDefault(o.name) == o.vsftpd_default;
    CHECK(same_default == o.note.empty());
  }
}

}  // namespace
}  // namespace keepftpd
