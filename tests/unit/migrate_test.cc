// Tests for src/entry/migrate.cc: a vsftpd.conf becomes a keepftpd.conf that parses, with every
// input line kept or commented out with its reason, the listening and limits moved to the socket
// drop-in and the xinetd entry, and a report that sorts each item into its section.
#include "migrate.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "config.h"
#include "strutil.h"
#include "test_support.h"

namespace keepftpd {
namespace {

// The PAM services that exist, as MigrateVsftpdConfig asks about them.
bool NoPam(std::string_view) { return false; }
bool VsftpdPam(std::string_view name) { return name == "vsftpd"; }
bool FtpPam(std::string_view name) { return name == "ftp"; }
bool AllPam(std::string_view) { return true; }

std::vector<std::string> g_asked;  // the names RecordingPam was asked about
bool RecordingPam(std::string_view name) {
  g_asked.emplace_back(name);
  return name == "vsftpd";
}

Migration Migrate(std::string_view text, bool (*pam)(std::string_view) = VsftpdPam) {
  return MigrateVsftpdConfig(text, "vsftpd.conf", pam);
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool HasLine(std::string_view text, std::string_view line) {
  const std::vector<std::string> lines = Lines(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// The report items that contain needle.
int Count(const std::vector<std::string>& items, std::string_view needle) {
  return static_cast<int>(std::count_if(items.begin(), items.end(), [&](const std::string& i) {
    return Contains(i, needle);
  }));
}

bool Has(const std::vector<std::string>& items, std::string_view needle) {
  return Count(items, needle) > 0;
}

// keepftpd's own parser on the converted file: its errors, printed ("" when none).
std::string ParseErrors(const std::string& conf) {
  std::vector<ConfigError> errors;
  ParseConfig(conf, "keepftpd.conf", &errors);
  std::string out;
  for (const ConfigError& e : errors) out += e.ToString() + "\n";
  return out;
}

// The line of the converted file that stands for input line `number` (1-based): the header is
// three lines, then one output line per input line, in order.
std::string OutputLineFor(const Migration& m, unsigned number) {
  const std::vector<std::string> lines = Lines(m.keepftpd_conf);
  return number + 2 < lines.size() ? lines[number + 2] : std::string("<missing>");
}

TEST_CASE("Empty input gives a file that parses, with anonymous logins off and the PAM service") {
  const Migration m = Migrate("");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(StartsWith(m.keepftpd_conf, "# keepftpd.conf converted by keepftpd --from-vsftpd from "
                                    "vsftpd.conf.\n"));
  CHECK(HasLine(m.keepftpd_conf, "# Added by keepftpd --from-vsftpd (see its report):"));
  CHECK(HasLine(m.keepftpd_conf, "anonymous_enable=NO"));
  CHECK(HasLine(m.keepftpd_conf, "pam_service_name=vsftpd"));
  CHECK(m.same.empty());
  CHECK(Has(m.decide, "anonymous_enable is not set"));
  CHECK(Has(m.changed, "pam_service_name is not set: the converted file says vsftpd"));
  CHECK(Has(m.changed, "limits vsftpd did not have apply: max_command_rate="));
  // No listen option: run by a superserver, port 21, both families, the superservers' limits.
  CHECK(m.moved.size() == 1);
  CHECK(Has(m.moved, "listen=NO (vsftpd run by a superserver): ftp.socket listens on port 21"));
  CHECK(HasLine(m.socket_dropin, "[Socket]"));
  CHECK(HasLine(m.socket_dropin, "ListenStream="));
  CHECK(HasLine(m.socket_dropin, "ListenStream=21"));
  CHECK_FALSE(Contains(m.socket_dropin, "MaxConnections"));
  CHECK(HasLine(m.xinetd_entry, "service ftp"));
  CHECK(HasLine(m.xinetd_entry, "\tinstances       = 64"));
  CHECK(HasLine(m.xinetd_entry, "\tper_source      = 8"));
  CHECK_FALSE(Contains(m.xinetd_entry, "port "));
  CHECK_FALSE(Contains(m.xinetd_entry, "bind"));
  CHECK_FALSE(Contains(m.xinetd_entry, "flags"));
  CHECK(Has(m.changed, "max_clients is not set (vsftpd: no limit): ftp.socket's "
                       "MaxConnections=64"));
  CHECK(Has(m.changed, "max_per_ip is not set (vsftpd: no limit): ftp.socket's "
                       "MaxConnectionsPerSource=8"));
}

TEST_CASE("Options keepftpd takes as vsftpd did are written unchanged and listed as the same") {
  const Migration m = Migrate(
      "anonymous_enable=YES\n"
      "local_enable=YES\n"
      "local_umask=022\n"
      "idle_session_timeout=600\n"
      "ftpd_banner=Welcome  to the archive \n"
      "max_command_rate=100\n");  // a keepftpd option is taken too
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 1) == "anonymous_enable=YES");
  CHECK(OutputLineFor(m, 2) == "local_enable=YES");
  CHECK(OutputLineFor(m, 3) == "local_umask=022");
  CHECK(OutputLineFor(m, 4) == "idle_session_timeout=600");
  CHECK(OutputLineFor(m, 5) == "ftpd_banner=Welcome  to the archive ");
  CHECK(OutputLineFor(m, 6) == "max_command_rate=100");
  CHECK(m.same == std::vector<std::string>{"anonymous_enable", "local_enable", "local_umask",
                                           "idle_session_timeout", "ftpd_banner",
                                           "max_command_rate"});
  // Set in the input: not added again, no decision about it.
  CHECK_FALSE(HasLine(m.keepftpd_conf, "anonymous_enable=NO"));
  CHECK_FALSE(Has(m.decide, "anonymous_enable is not set"));
}

TEST_CASE("vsftpd's spellings of booleans are kept as written, in any case") {
  const Migration m = Migrate("anonymous_enable=yes\nlocal_enable=True\nhide_ids=1\n"
                              "write_enable=false\ndirmessage_enable=0\nuse_localtime=No\n");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 1) == "anonymous_enable=yes");
  CHECK(OutputLineFor(m, 2) == "local_enable=True");
  CHECK(OutputLineFor(m, 3) == "hide_ids=1");
  CHECK(OutputLineFor(m, 4) == "write_enable=false");
  CHECK(OutputLineFor(m, 5) == "dirmessage_enable=0");
  CHECK(OutputLineFor(m, 6) == "use_localtime=No");
  CHECK(m.same.size() == 6);
  // local_enable=True counts as YES, and its PAM service (vsftpd) exists: nothing to decide.
  CHECK(m.decide.empty());
}

TEST_CASE("Blank lines and comments are copied, CRLF line ends lose their CR") {
  const std::string input = "# vsftpd.conf\n\n   \n\t\n#listen=YES\nanonymous_enable=NO\r\n";
  const Migration m = Migrate(input);
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 1) == "# vsftpd.conf");
  CHECK(OutputLineFor(m, 2) == "");
  CHECK(OutputLineFor(m, 3) == "   ");
  CHECK(OutputLineFor(m, 4) == "\t");
  CHECK(OutputLineFor(m, 5) == "#listen=YES");
  CHECK(OutputLineFor(m, 6) == "anonymous_enable=NO");
  CHECK_FALSE(Contains(m.keepftpd_conf, "\r"));
  // A commented listen=YES is not an option: the superserver mode applies.
  CHECK(Has(m.moved, "listen=NO (vsftpd run by a superserver)"));
  // The last line without a newline is still read.
  CHECK(OutputLineFor(Migrate("anonymous_enable=NO"), 1) == "anonymous_enable=NO");
}

TEST_CASE("A number with text after its digits keeps the digits, as vsftpd read it, reported") {
  const Migration m = Migrate("anonymous_enable=NO\nidle_session_timeout=600 # ten minutes\n"
                              "local_max_rate=1000000 # bytes per second\n");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 2) == "idle_session_timeout=600");
  CHECK(OutputLineFor(m, 3) == "local_max_rate=1000000");
  CHECK(Has(m.changed, "line 2: idle_session_timeout=600 # ten minutes is written as "
                       "idle_session_timeout=600: vsftpd read only the leading digits"));
  CHECK(Has(m.changed, "line 3: local_max_rate=1000000 # bytes per second is written as "
                       "local_max_rate=1000000"));
  CHECK(Has(m.same, "idle_session_timeout"));
}

TEST_CASE("A value keepftpd's parser refuses is commented out with the parser's message") {
  const Migration m = Migrate(
      "anonymous_enable=NO\n"
      "hide_ids=maybe\n"
      "banner_file=relative.txt\n"
      "local_umask=999\n"           // not octal, and its digits are no better
      "idle_session_timeout=abc\n"  // no leading digits at all
      "ptrace_sandbox=YES\n");      // keepftpd accepts only NO
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 2) == "# [refused: expected YES or NO, got 'maybe'] hide_ids=maybe");
  CHECK(StartsWith(OutputLineFor(m, 3), "# [refused: expected an absolute path"));
  CHECK(Contains(OutputLineFor(m, 3), "] banner_file=relative.txt"));
  CHECK(StartsWith(OutputLineFor(m, 4), "# [refused: expected an octal number"));
  CHECK(StartsWith(OutputLineFor(m, 5), "# [refused: expected a number from"));
  CHECK(StartsWith(OutputLineFor(m, 6),
                   "# [refused: vsftpd's experimental ptrace sandbox does not exist"));
  CHECK(Has(m.decide, "line 2: hide_ids=maybe: expected YES or NO, got 'maybe'; left out"));
  CHECK(Has(m.decide, "line 3: banner_file=relative.txt: expected an absolute path"));
  CHECK(Has(m.decide, "line 4: local_umask=999: expected an octal number"));
  CHECK(Has(m.decide, "line 5: idle_session_timeout=abc: expected a number from"));
  CHECK(Has(m.decide, "line 6: ptrace_sandbox=YES: vsftpd's experimental ptrace sandbox"));
  CHECK(m.same == std::vector<std::string>{"anonymous_enable"});
}

TEST_CASE("Options keepftpd refuses whatever their value are commented out with the replacement") {
  const Migration m = Migrate("anonymous_enable=NO\ndsa_cert_file=/etc/ssl/dsa.pem\n"
                              "dsa_private_key_file=/etc/ssl/dsa.key\n");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 2) == "# [refused] dsa_cert_file=/etc/ssl/dsa.pem");
  CHECK(OutputLineFor(m, 3) == "# [refused] dsa_private_key_file=/etc/ssl/dsa.key");
  CHECK(Has(m.decide, "line 2: dsa_cert_file=/etc/ssl/dsa.pem: DSA certificates cannot be used "
                      "with TLS 1.2 and 1.3; use rsa_cert_file"));
  CHECK(Has(m.decide, "line 3: dsa_private_key_file=/etc/ssl/dsa.key: DSA certificates"));
  CHECK(Has(m.decide, "; left out"));
}

TEST_CASE("Options keepftpd accepts with another meaning are kept and explained as changed") {
  const Migration m = Migrate("anonymous_enable=NO\nssl_sslv3=YES\nhttp_enable=NO\n"
                              "async_abor_enable=YES\n");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 2) == "ssl_sslv3=YES");
  CHECK(OutputLineFor(m, 3) == "http_enable=NO");
  CHECK(OutputLineFor(m, 4) == "async_abor_enable=YES");
  CHECK(Has(m.changed, "line 2: ssl_sslv3=YES: accepted and ignored: keepftpd negotiates only "
                       "TLS 1.2 and 1.3"));
  CHECK(Has(m.changed, "line 3: http_enable=NO: NO is accepted and ignored"));
  CHECK(Has(m.changed, "line 4: async_abor_enable=YES: accepted and ignored"));
  CHECK(m.same == std::vector<std::string>{"anonymous_enable"});
}

TEST_CASE("An option set twice keeps the later line, as vsftpd did, and comments out the earlier") {
  const Migration m = Migrate("anonymous_enable=NO\nmax_login_fails=3\nlocal_enable=NO\n"
                              "max_login_fails=5\n");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 2) == "# [set again on line 4] max_login_fails=3");
  CHECK(OutputLineFor(m, 4) == "max_login_fails=5");
  CHECK(Has(m.changed, "line 2: max_login_fails is set again on line 4; the later value is kept"));
  CHECK(Count(m.same, "max_login_fails") == 1);
  // Three times: both earlier lines name the last one.
  const Migration three = Migrate("hide_ids=YES\nhide_ids=NO\nhide_ids=YES\n");
  CHECK(OutputLineFor(three, 1) == "# [set again on line 3] hide_ids=YES");
  CHECK(OutputLineFor(three, 2) == "# [set again on line 3] hide_ids=NO");
  CHECK(OutputLineFor(three, 3) == "hide_ids=YES");
  CHECK(ParseErrors(three.keepftpd_conf) == "");
}

TEST_CASE("Unknown options and lines without '=' are left out and need a decision") {
  const Migration m = Migrate("anonymous_enable=NO\nbogus_option=1\nnot an option\n"
                              "anonymous_enable =YES\n=value\n");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 2) == "# [unknown option] bogus_option=1");
  CHECK(OutputLineFor(m, 3) == "# [not an option=value line] not an option");
  CHECK(OutputLineFor(m, 4) == "# [unknown option] anonymous_enable =YES");
  CHECK(OutputLineFor(m, 5) == "# [unknown option] =value");
  CHECK(Has(m.decide, "line 2: bogus_option is neither a vsftpd nor a keepftpd option; left out"));
  CHECK(Has(m.decide, "line 3: 'not an option' is not an option=value line; left out"));
  CHECK(Has(m.decide, "line 4: anonymous_enable  is neither"));
  CHECK(Has(m.decide, "line 5: "));
}

TEST_CASE("seccomp_sandbox=NO is not carried over, and the report says how to find a missed call") {
  const Migration m = Migrate("anonymous_enable=NO\nseccomp_sandbox=NO\n");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 2) ==
        "# [left out: keepftpd's seccomp sandbox works with this libc] seccomp_sandbox=NO");
  CHECK(Has(m.decide, "line 2: seccomp_sandbox=NO: left out."));
  CHECK(Has(m.decide, "seccomp_log_only=YES"));
  // Any spelling of NO; YES is simply kept.
  CHECK(StartsWith(OutputLineFor(Migrate("seccomp_sandbox=false\n"), 1), "# [left out: "));
  const Migration yes = Migrate("seccomp_sandbox=YES\n");
  CHECK(OutputLineFor(yes, 1) == "seccomp_sandbox=YES");
  CHECK(Has(yes.same, "seccomp_sandbox"));
}

TEST_CASE("listen=YES with a port and address moves to the socket and xinetd, IPv4 only") {
  const Migration m = Migrate("anonymous_enable=NO\nlisten=YES\nlisten_port=2211\n"
                              "listen_address=192.0.2.1\nbackground=YES\n");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  for (unsigned line = 2; line <= 5; ++line) {
    CHECK(StartsWith(OutputLineFor(m, line), "# [now the socket unit's or the xinetd entry's] "));
  }
  CHECK(OutputLineFor(m, 3) == "# [now the socket unit's or the xinetd entry's] listen_port=2211");
  CHECK(HasLine(m.socket_dropin, "ListenStream=192.0.2.1:2211"));
  CHECK(HasLine(m.xinetd_entry, "\ttype            = UNLISTED"));
  CHECK(HasLine(m.xinetd_entry, "\tport            = 2211"));
  CHECK(HasLine(m.xinetd_entry, "\tbind            = 192.0.2.1"));
  CHECK_FALSE(Contains(m.xinetd_entry, "flags"));
  CHECK(Has(m.moved, "listen=YES, listen_address=192.0.2.1, listen_port=2211: ftp.socket listens "
                     "on 192.0.2.1:2211 (IPv4 only, as vsftpd did)"));
  CHECK(m.same == std::vector<std::string>{"anonymous_enable"});

  const Migration any = Migrate("listen=YES\nlisten_port=2121\n");
  CHECK(HasLine(any.socket_dropin, "ListenStream=0.0.0.0:2121"));
  CHECK_FALSE(Contains(any.xinetd_entry, "bind"));
}

TEST_CASE("listen_ipv6=YES listens on both families, or on the IPv6 address given") {
  const Migration both = Migrate("listen=NO\nlisten_ipv6=YES\n");
  CHECK(ParseErrors(both.keepftpd_conf) == "");
  CHECK(HasLine(both.socket_dropin, "ListenStream=21"));
  CHECK(HasLine(both.xinetd_entry, "\tflags           = IPv6"));
  CHECK(Has(both.moved, "listen_ipv6=YES, listen_port=21: ftp.socket listens on port 21, IPv6 "
                        "and IPv4"));
  CHECK_FALSE(Has(both.decide, "together"));

  const Migration one = Migrate("listen_ipv6=YES\nlisten_address6=2001:db8::1\nlisten_port=990\n");
  CHECK(HasLine(one.socket_dropin, "ListenStream=[2001:db8::1]:990"));
  CHECK(HasLine(one.xinetd_entry, "\tbind            = 2001:db8::1"));
  CHECK(HasLine(one.xinetd_entry, "\tport            = 990"));
  CHECK(Has(one.moved, "ftp.socket listens on [2001:db8::1]:990"));

  // vsftpd refused both; the socket follows listen_ipv6 and the administrator is told.
  const Migration two = Migrate("listen=YES\nlisten_ipv6=YES\n");
  CHECK(HasLine(two.socket_dropin, "ListenStream=21"));
  CHECK(Has(two.decide, "listen=YES and listen_ipv6=YES together: vsftpd refused to start so"));
}

TEST_CASE("max_clients and max_per_ip become the socket's and xinetd's limits") {
  const Migration m = Migrate("anonymous_enable=NO\nmax_clients=50         # clients\n"
                              "max_per_ip=2           # per address\n");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 2) ==
        "# [now the socket unit's or the xinetd entry's] max_clients=50         # clients");
  CHECK(HasLine(m.socket_dropin, "MaxConnections=50"));
  CHECK(HasLine(m.socket_dropin, "MaxConnectionsPerSource=2"));
  CHECK(HasLine(m.xinetd_entry, "\tinstances       = 50"));
  CHECK(HasLine(m.xinetd_entry, "\tper_source      = 2"));
  CHECK(Has(m.moved, "max_clients=50: MaxConnections=50 in ftp.socket, instances = 50 in the "
                     "xinetd entry"));
  CHECK(Has(m.moved, "max_per_ip=2: MaxConnectionsPerSource=2 in ftp.socket, per_source = 2"));
  CHECK_FALSE(Has(m.changed, "max_clients is not set"));
  CHECK_FALSE(Has(m.changed, "max_per_ip is not set"));

  // 0 is vsftpd's "no limit": the superservers' defaults apply, as when unset. Leading zeros
  // are read as decimal.
  const Migration zero = Migrate("max_clients=0\nmax_per_ip=007\n");
  CHECK_FALSE(Contains(zero.socket_dropin, "MaxConnections="));
  CHECK(HasLine(zero.socket_dropin, "MaxConnectionsPerSource=7"));
  CHECK(HasLine(zero.xinetd_entry, "\tinstances       = 64"));
  CHECK(HasLine(zero.xinetd_entry, "\tper_source      = 7"));
  CHECK(Has(zero.changed, "max_clients is not set (vsftpd: no limit)"));
}

TEST_CASE("tcp_wrappers=YES needs a decision, one_process_model=YES is dropped with a note") {
  const Migration m = Migrate("anonymous_enable=NO\ntcp_wrappers=YES\none_process_model=YES\n");
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(StartsWith(OutputLineFor(m, 2), "# [now the socket unit's or the xinetd entry's] "));
  CHECK(StartsWith(OutputLineFor(m, 3), "# [now the socket unit's or the xinetd entry's] "));
  CHECK(Has(m.decide, "tcp_wrappers=YES: /etc/hosts.allow and /etc/hosts.deny are not read"));
  CHECK(Has(m.changed, "one_process_model=YES is left out: keepftpd always separates "
                       "privileges"));
  const Migration no = Migrate("tcp_wrappers=NO\none_process_model=NO\n");
  CHECK_FALSE(Has(no.decide, "tcp_wrappers"));
  CHECK_FALSE(Has(no.changed, "one_process_model"));
}

TEST_CASE("Without pam_service_name, the PAM service vsftpd used is chosen from those that exist") {
  CHECK(HasLine(Migrate("", VsftpdPam).keepftpd_conf, "pam_service_name=vsftpd"));
  CHECK(HasLine(Migrate("", FtpPam).keepftpd_conf, "pam_service_name=ftp"));
  CHECK(HasLine(Migrate("", AllPam).keepftpd_conf, "pam_service_name=ftp"));
  CHECK(HasLine(Migrate("", NoPam).keepftpd_conf, "pam_service_name=ftp"));

  // Set in the input: kept as it is, nothing added.
  const Migration set = Migrate("pam_service_name=keepftpd\n", NoPam);
  CHECK(OutputLineFor(set, 1) == "pam_service_name=keepftpd");
  CHECK(Count(Lines(set.keepftpd_conf), "pam_service_name=") == 1);
  CHECK_FALSE(Has(set.changed, "pam_service_name is not set"));
}

TEST_CASE("Local logins without their PAM service need a decision naming /etc/pam.d/NAME") {
  const Migration missing = Migrate("anonymous_enable=NO\nlocal_enable=YES\n", NoPam);
  CHECK(Has(missing.decide, "local_enable=YES, but /etc/pam.d/ftp does not exist"));
  const Migration named = Migrate("local_enable=YES\npam_service_name=vsftpd\n", FtpPam);
  CHECK(Has(named.decide, "local_enable=YES, but /etc/pam.d/vsftpd does not exist"));
  const Migration there = Migrate("local_enable=YES\npam_service_name=vsftpd\n", VsftpdPam);
  CHECK_FALSE(Has(there.decide, "local_enable=YES, but"));
  // local_enable=NO: PAM does not matter.
  const Migration off = Migrate("local_enable=NO\n", NoPam);
  CHECK_FALSE(Has(off.decide, "local_enable=YES, but"));

  g_asked.clear();
  Migrate("local_enable=YES\npam_service_name=custom\n", RecordingPam);
  CHECK(g_asked == std::vector<std::string>{"custom"});
  g_asked.clear();
}

TEST_CASE("Uploads with write_enable=YES are reported atomic unless atomic_uploads is set") {
  CHECK(Has(Migrate("write_enable=YES\n").changed, "uploads are atomic (atomic_uploads=YES"));
  CHECK_FALSE(Has(Migrate("write_enable=NO\n").changed, "uploads are atomic"));
  const Migration set = Migrate("write_enable=YES\natomic_uploads=NO\n");
  CHECK_FALSE(Has(set.changed, "uploads are atomic"));
  CHECK(OutputLineFor(set, 2) == "atomic_uploads=NO");
  CHECK(Has(set.same, "atomic_uploads"));
}

TEST_CASE("ssl_ciphers' different default is reported only when TLS is on") {
  CHECK(Has(Migrate("ssl_enable=YES\n").changed, "ssl_ciphers is not set: keepftpd's default is"));
  CHECK_FALSE(Has(Migrate("ssl_enable=NO\n").changed, "ssl_ciphers"));
  CHECK_FALSE(Has(Migrate("").changed, "ssl_ciphers"));
  CHECK_FALSE(Has(Migrate("ssl_enable=YES\nssl_ciphers=HIGH\n").changed, "ssl_ciphers is not set"));
}

TEST_CASE("Control bytes from the input never reach the files' text or the report as themselves") {
  const std::string input = std::string("anonymous_enable=NO\nftpd_banner=a\x1b[2Jb\n") +
                            std::string("anon_root=/srv\0x\n", 17) + "bogus\x07=1\n" +
                            "listen=YES\nlisten_address=192.0.2.1\x1b\n";
  const Migration m = MigrateVsftpdConfig(input, "evil\nname\x1b.conf", VsftpdPam);
  CHECK(ParseErrors(m.keepftpd_conf) == "");
  CHECK(OutputLineFor(m, 2) == "# [refused: contains a control character] ftpd_banner=a?[2Jb");
  CHECK(OutputLineFor(m, 3) == "# [refused: line contains a NUL byte] anon_root=/srv?x");
  CHECK(OutputLineFor(m, 4) == "# [unknown option] bogus?=1");
  CHECK(Has(m.decide, "line 4: bogus? is neither"));
  CHECK(StartsWith(m.keepftpd_conf, "# keepftpd.conf converted by keepftpd --from-vsftpd from "
                                    "evil?name?.conf.\n"));
  CHECK(HasLine(m.socket_dropin, "ListenStream=192.0.2.1?:21"));
  CHECK(Contains(m.socket_dropin, "from evil?name?.conf."));
  CHECK(Contains(m.xinetd_entry, "from evil?name?.conf."));
  auto clean = [](std::string_view text) {
    return std::none_of(text.begin(), text.end(), [](char c) {
      const unsigned char u = static_cast<unsigned char>(c);
      return (u < 0x20 && c != '\n' && c != '\t') || u == 0x7f;
    });
  };
  CHECK(clean(m.keepftpd_conf));
  CHECK(clean(m.socket_dropin));
  CHECK(clean(m.xinetd_entry));
  CHECK(clean(FormatMigrationReport(m, "/tmp/out")));
}

TEST_CASE("The report lists the five sections with their counts, then how to install") {
  const Migration m = Migrate("anonymous_enable=NO\nlocal_enable=YES\nbogus=1\nmax_clients=5\n");
  const std::string r = FormatMigrationReport(m, "/tmp/out");
  CHECK(StartsWith(r, "Same in keepftpd (2):\n  anonymous_enable, local_enable\n\n"));
  CHECK(Contains(r, "Changed meaning or default (" + std::to_string(m.changed.size()) + "):\n"));
  CHECK(Contains(r, "Moved to the socket unit and the xinetd entry (2):\n"));
  CHECK(Contains(r, "Needs your decision (" + std::to_string(m.decide.size()) + "):\n"));
  CHECK(Contains(r, "  - line 3: bogus is neither a vsftpd nor a keepftpd option; left out\n"));
  for (const std::vector<std::string>* items : {&m.changed, &m.moved, &m.decide}) {
    for (const std::string& item : *items) CHECK(Contains(r, "  - " + item + "\n"));
  }
  CHECK(Contains(r, "keepftpd --check-config --config /tmp/out/keepftpd.conf\n"));
  CHECK(Contains(r, "cp /tmp/out/ftp.socket.d/override.conf /etc/systemd/system/ftp.socket.d/"));
  CHECK(Contains(r, "cp /tmp/out/xinetd.d/keepftpd /etc/xinetd.d/keepftpd\n"));
  // The sections come in this order.
  const std::size_t same = r.find("Same in keepftpd"), changed = r.find("Changed meaning"),
                    moved = r.find("Moved to the socket"), decide = r.find("Needs your decision"),
                    from_vsftpd = r.find("Still taken from vsftpd"),
                    check = r.find("Check the result");
  CHECK(same < changed);
  CHECK(changed < moved);
  CHECK(moved < decide);
  CHECK(decide < from_vsftpd);
  CHECK(from_vsftpd < check);

  // An empty section says (0) and lists nothing.
  Migration empty;
  const std::string e = FormatMigrationReport(empty, "out");
  CHECK(StartsWith(e, "Same in keepftpd (0)\n\nChanged meaning or default (0)\n\n"
                      "Moved to the socket unit and the xinetd entry (0)\n\n"
                      "Needs your decision (0)\n\n"
                      "Still taken from vsftpd, to change before its package goes (0)\n\n"
                      "Check the result:\n"));
}

// Reads a file of tests/data/vsftpd.
std::string ReadData(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("vsftpd's own empty chroot directory is left out for keepftpd's default; another is "
          "kept") {
  const Migration m = Migrate("secure_chroot_dir=/var/run/vsftpd/empty\n");
  CHECK(HasLine(m.keepftpd_conf, "# [vsftpd's; keepftpd's default, /usr/share/empty, is used] "
                                 "secure_chroot_dir=/var/run/vsftpd/empty"));
  CHECK(Has(m.changed, "line 1: secure_chroot_dir=/var/run/vsftpd/empty: left out"));
  CHECK(Has(m.changed, "systemd-tmpfiles --create keepftpd.conf"));
  const Migration own = Migrate("secure_chroot_dir=/srv/empty\n");
  CHECK(HasLine(own.keepftpd_conf, "secure_chroot_dir=/srv/empty"));
}

// Debian's vsftpd package, as dpkg -L lists it (the part that matters here).
VsftpdPackage DebianVsftpd() {
  return {true, {"/etc/ftpusers", "/etc/logrotate.d/vsftpd", "/etc/pam.d/vsftpd",
                 "/etc/vsftpd.conf", "/usr/lib/tmpfiles.d/vsftpd.conf", "/usr/sbin/vsftpd"}};
}

Config Converted(std::string_view vsftpd_conf) {
  std::vector<ConfigError> errors;
  Config c = ParseConfig(Migrate(vsftpd_conf).keepftpd_conf, "keepftpd.conf", &errors);
  CHECK(errors.empty());
  return c;
}

constexpr std::string_view kDebianPam =
    "# Standard behaviour for ftpd(8).\n"
    "auth\trequired\tpam_listfile.so item=user sense=deny file=/etc/ftpusers onerr=succeed\n"
    "@include common-account\n@include common-session\n@include common-auth\n"
    "auth\trequired\tpam_shells.so\n";

TEST_CASE("what Debian's vsftpd.conf still takes from the package: its PAM service, the "
          "/etc/ftpusers that service reads, and the transfer log that its logrotate entry "
          "rotates; each with the commands that end it") {
  const Config c = Converted(
      "listen=NO\nlisten_ipv6=YES\nanonymous_enable=NO\nlocal_enable=YES\nxferlog_enable=YES\n"
      "secure_chroot_dir=/var/run/vsftpd/empty\npam_service_name=vsftpd\n"
      "rsa_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem\n"
      "rsa_private_key_file=/etc/ssl/private/ssl-cert-snakeoil.key\nssl_enable=NO\n");
  const std::vector<std::string> items = VsftpdDependencies(c, kDebianPam, DebianVsftpd());
  for (const std::string& i : items) INFO(i);
  CHECK(items.size() == 3);
  CHECK(Has(items, "pam_service_name=vsftpd: /etc/pam.d/vsftpd belongs to the vsftpd package "
                   "(dpkg -S /etc/pam.d/vsftpd)"));
  CHECK(Has(items, "cp /etc/pam.d/vsftpd /etc/pam.d/keepftpd; then set pam_service_name=keepftpd"));
  CHECK(Has(items, "/etc/ftpusers, which /etc/pam.d/vsftpd reads, belongs to the vsftpd package"));
  CHECK(Has(items, "Run: cp -p /etc/ftpusers /etc/keepftpd.ftpusers; sed -i "
                   "'s|/etc/ftpusers|/etc/keepftpd.ftpusers|' /etc/pam.d/keepftpd"));
  CHECK(Has(items, "vsftpd_log_file=/var/log/vsftpd.log is named after vsftpd. A log: set "
                   "vsftpd_log_file=/var/log/keepftpd.log"));
  CHECK(Has(items, "sed 's|/var/log/vsftpd.log|/var/log/keepftpd.log|' /etc/logrotate.d/vsftpd > "
                   "/etc/logrotate.d/keepftpd"));
  // The snakeoil pair is ssl-cert's, and TLS is off; the chroot directory was converted.
  CHECK_FALSE(Has(items, "snakeoil"));
  CHECK_FALSE(Has(items, "secure_chroot_dir"));
}

TEST_CASE("files named after vsftpd that options name are copied to keepftpd's names, a "
          "directory with its parent made; a PEM file named twice changes both options") {
  const Config c = Converted(
      "local_enable=YES\nuserlist_enable=YES\npam_service_name=keepftpd\n"
      "anonymous_enable=YES\ndeny_email_enable=YES\nbanner_file=/etc/vsftpd/banner\n"
      "ssl_enable=YES\nrsa_cert_file=/etc/ssl/private/vsftpd.pem\n"
      "rsa_private_key_file=/etc/ssl/private/vsftpd.pem\nuser_config_dir=/etc/vsftpd/users\n");
  const std::vector<std::string> items = VsftpdDependencies(c, "", DebianVsftpd());
  for (const std::string& i : items) INFO(i);
  CHECK(items.size() == 5);
  CHECK(Has(items, "userlist_file=/etc/vsftpd.user_list is named after vsftpd. Run: cp -p "
                   "/etc/vsftpd.user_list /etc/keepftpd.user_list; then set "
                   "userlist_file=/etc/keepftpd.user_list"));
  CHECK(Has(items, "banned_email_file=/etc/vsftpd.banned_emails is named after vsftpd. Run: cp -p "
                   "/etc/vsftpd.banned_emails /etc/keepftpd.banned_emails"));
  CHECK(Has(items, "banner_file=/etc/vsftpd/banner is named after vsftpd. Run: mkdir -p "
                   "/etc/keepftpd; cp -p /etc/vsftpd/banner /etc/keepftpd/banner; then set "
                   "banner_file=/etc/keepftpd/banner"));
  CHECK(Has(items, "Run: cp -p /etc/ssl/private/vsftpd.pem /etc/ssl/private/keepftpd.pem; then "
                   "set rsa_cert_file=/etc/ssl/private/keepftpd.pem and "
                   "rsa_private_key_file=/etc/ssl/private/keepftpd.pem"));
  CHECK(Has(items, "Run: mkdir -p /etc/keepftpd; cp -a /etc/vsftpd/users /etc/keepftpd/users; "
                   "then set user_config_dir=/etc/keepftpd/users"));
  CHECK_FALSE(Has(items, "pam_service_name"));  // keepftpd's own service
}

TEST_CASE("the files a PAM service reads: pam_pwdfile's password file and pam_userdb's database "
          "(its name without .db) are copied and the service made to read the copies") {
  const Config c = Converted("local_enable=YES\npam_service_name=vsftpd\n");
  const std::vector<std::string> items = VsftpdDependencies(
      c,
      "auth required pam_pwdfile.so pwdfile /etc/vsftpd/.passwd\n"
      "account required pam_userdb.so db=/etc/vsftpd/virtual_users\n"
      "# auth required pam_listfile.so file=/etc/vsftpd/commented\n",
      VsftpdPackage{});
  for (const std::string& i : items) INFO(i);
  CHECK(items.size() == 3);
  CHECK(Has(items, "pam_service_name=vsftpd: /etc/pam.d/vsftpd is named after vsftpd"));
  CHECK(Has(items, "Run: mkdir -p /etc/keepftpd; cp -p /etc/vsftpd/.passwd /etc/keepftpd/.passwd; "
                   "sed -i 's|/etc/vsftpd/.passwd|/etc/keepftpd/.passwd|' /etc/pam.d/keepftpd"));
  CHECK(Has(items, "cp -p /etc/vsftpd/virtual_users.db /etc/keepftpd/virtual_users.db; sed -i "
                   "'s|/etc/vsftpd/virtual_users|/etc/keepftpd/virtual_users|' "
                   "/etc/pam.d/keepftpd"));
  CHECK_FALSE(Has(items, "commented"));
}

TEST_CASE("whose a path is: the package's list where it is installed, else the paths its Debian "
          "package installs, and anything named after vsftpd") {
  CHECK(IsVsftpdPath("/etc/ftpusers", DebianVsftpd()));
  CHECK(IsVsftpdPath("/etc/ftpusers", VsftpdPackage{}));  // not installed: Debian's list
  CHECK_FALSE(IsVsftpdPath("/etc/ftpusers", VsftpdPackage{true, {"/usr/sbin/vsftpd"}}));
  CHECK(IsVsftpdPath("/var/run/vsftpd/empty", VsftpdPackage{}));
  CHECK(IsVsftpdPath("/etc/ssl/private/vsftpd.pem", VsftpdPackage{}));
  CHECK_FALSE(IsVsftpdPath("/etc/ssl/certs/ssl-cert-snakeoil.pem", DebianVsftpd()));
  CHECK_FALSE(IsVsftpdPath("/srv/ftp", DebianVsftpd()));
  CHECK_FALSE(IsVsftpdPath("relative/vsftpd", DebianVsftpd()));
}

TEST_CASE("an anonymous-only configuration of the ArchWiki takes nothing from vsftpd, and the "
          "report says so") {
  Migration m = Migrate("anonymous_enable=YES\nno_anon_password=YES\nanon_max_rate=30000\n"
                        "anon_root=/srv/ftp\n");
  std::vector<ConfigError> errors;
  m.from_vsftpd = VsftpdDependencies(ParseConfig(m.keepftpd_conf, "k", &errors), kDebianPam,
                                     DebianVsftpd());
  CHECK(m.from_vsftpd.empty());
  CHECK(Contains(FormatMigrationReport(m, "out"),
                 "Still taken from vsftpd, to change before its package goes (0)\n"));
}

#ifdef KEEPFTPD_SOURCE_DIR
TEST_CASE("The configurations in tests/data/vsftpd convert to files that parse, no line lost") {
  const std::filesystem::path dir =
      std::filesystem::path(KEEPFTPD_SOURCE_DIR) / "tests" / "data" / "vsftpd";
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  // The error_code forms: the build has no exceptions.
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".conf") files.push_back(it->path());
  }
  CHECK_OR_RETURN(!ec);
  CHECK(files.size() >= 10);
  std::sort(files.begin(), files.end());
  for (const std::filesystem::path& file : files) {
    CAPTURE(file.filename().string());
    const std::string input = ReadData(file);
    CHECK(!input.empty());
    const Migration m = MigrateVsftpdConfig(input, file.filename().string(), VsftpdPam);
    CHECK(ParseErrors(m.keepftpd_conf) == "");
    const std::string report = FormatMigrationReport(m, "out");
    const std::vector<std::string> in_lines = Lines(input);
    for (unsigned i = 0; i < in_lines.size(); ++i) {
      const std::string& line = in_lines[i];
      const std::string out = OutputLineFor(m, i + 1);
      if (line.empty() || line[0] == '#') {
        CHECK(out == line);
        continue;
      }
      // Kept, possibly as its leading digits, or commented out, marked, with the line's number
      // or the option's name in the report.
      const std::string name = line.substr(0, line.find('='));
      const bool kept = StartsWith(out, name + "=") && StartsWith(line, out);
      const bool marked = StartsWith(out, "# [") && Contains(out, "] " + line);
      CHECK_MESSAGE((kept || marked), line, " became ", out);
      if (marked) {
        CHECK_MESSAGE((Contains(report, "line " + std::to_string(i + 1) + ":") ||
                       Contains(report, name)),
                      line);
      }
    }
  }
}
#endif  // KEEPFTPD_SOURCE_DIR

}  // namespace
}  // namespace keepftpd
