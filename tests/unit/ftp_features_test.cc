// Tests for src/jail/ftp_features.cc: the FEAT lines with and without TLS, cmds_allowed and
// cmds_denied, and the replies and state of PBSZ and PROT (read from the client's end of a
// control connection).
#include "ftp_features.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <vector>

#include "cmdio.h"
#include "config.h"
#include "unique_fd.h"

namespace keepftpd {
namespace {

// A Config from config file text, which must parse without errors.
Config Parse(std::string_view text) {
  std::vector<ConfigError> errors;
  Config config = ParseConfig(text, "test.conf", &errors);
  CHECK_MESSAGE(errors.empty(), text);
  return config;
}

// A control connection: the server's end in ctrl, the client's end to read the replies from.
struct Control {
  UniqueFd server;
  UniqueFd client;
  ControlConnection ctrl{-1};
  Control() {
    int fds[2] = {-1, -1};
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    server.Reset(fds[0]);
    client.Reset(fds[1]);
    ctrl = ControlConnection(server.get());
  }
  // The next reply line, with its CRLF.
  std::string Reply() {
    std::string line;
    char c;
    while (read(client.get(), &c, 1) == 1) {
      line += c;
      if (c == '\n') break;
    }
    return line;
  }
};

// The lines joined with '|', so that a failure prints them.
std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "|";
  return out;
}

// ---- FEAT ----

TEST_CASE("FEAT without TLS lists the features in order, without AUTH, PBSZ and PROT") {
  const std::vector<std::string> expected = {
      " EPRT", " EPSV", " HASH SHA-256*;MD5", " HOST", " MDTM", " MFMT", " MLST size*;type*;",
      " PASV", " REST STREAM", " SIZE", " TVFS", " UTF8"};
  CHECK(Joined(FeatureLines("size*;type*;", "SHA-256*;MD5", false)) == Joined(expected));
}

TEST_CASE("FEAT with TLS adds AUTH SSL and AUTH TLS first and PBSZ and PROT after PASV") {
  const std::vector<std::string> expected = {
      " AUTH SSL", " AUTH TLS", " EPRT",  " EPSV",        " HASH SHA-256*;MD5",
      " HOST",     " MDTM",     " MFMT",  " MLST size*;", " PASV",
      " PBSZ",     " PROT",     " REST STREAM",           " SIZE",
      " TVFS",     " UTF8"};
  CHECK(Joined(FeatureLines("size*;", "SHA-256*;MD5", true)) == Joined(expected));
}

TEST_CASE("FEAT lines all start with a space, so none can end the 211 reply") {
  for (bool tls : {false, true}) {
    for (const std::string& line : FeatureLines("", "", tls)) {
      CAPTURE(line);
      CHECK(line.size() > 1);
      CHECK(line[0] == ' ');
    }
  }
}

// ---- cmds_allowed / cmds_denied ----

TEST_CASE("without cmds_allowed and cmds_denied every command is permitted") {
  const Config config;
  for (std::string_view verb : {"USER", "RETR", "STOR", "SITE", "XYZZ"}) {
    CHECK(CommandPermitted(config, verb));
  }
}

TEST_CASE("cmds_allowed permits the listed commands only, in any case") {
  const Config config = Parse("cmds_allowed=USER,pass,Retr,QUIT\n");
  for (std::string_view verb : {"USER", "user", "PASS", "RETR", "retr", "QUIT"}) {
    CAPTURE(verb);
    CHECK(CommandPermitted(config, verb));
  }
  // Whole names only: no prefixes, no extensions, no other commands.
  for (std::string_view verb : {"STOR", "RET", "RETRX", "US", "PASSW", "DELE"}) {
    CAPTURE(verb);
    CHECK_FALSE(CommandPermitted(config, verb));
  }
}

TEST_CASE("cmds_denied refuses the listed commands, in any case, and permits the rest") {
  const Config config = Parse("cmds_denied=DELE,rmd,Stor\n");
  for (std::string_view verb : {"DELE", "dele", "RMD", "STOR", "stor"}) {
    CAPTURE(verb);
    CHECK_FALSE(CommandPermitted(config, verb));
  }
  for (std::string_view verb : {"RETR", "DEL", "RMDA", "STOU", "XRMD"}) {
    CAPTURE(verb);
    CHECK(CommandPermitted(config, verb));
  }
}

TEST_CASE("with both lists, cmds_denied wins and cmds_allowed still limits the rest") {
  const Config config = Parse("cmds_allowed=USER,PASS,RETR,DELE\ncmds_denied=DELE,STOR\n");
  CHECK(CommandPermitted(config, "USER"));
  CHECK(CommandPermitted(config, "RETR"));
  CHECK_FALSE(CommandPermitted(config, "DELE"));  // allowed, but denied
  CHECK_FALSE(CommandPermitted(config, "STOR"));  // denied, and not allowed
  CHECK_FALSE(CommandPermitted(config, "MKD"));   // neither: not allowed
}

TEST_CASE("spaces and tabs around the commas of a list are ignored") {
  // The config parser refuses them (config_test.cc); a Config built otherwise is matched by
  // the names between them all the same.
  Config config;
  config.cmds_allowed = " USER ,\tPASS\t, retr";
  config.cmds_denied = "DELE , rmd ";
  CHECK(CommandPermitted(config, "USER"));
  CHECK(CommandPermitted(config, "PASS"));
  CHECK(CommandPermitted(config, "RETR"));
  CHECK_FALSE(CommandPermitted(config, "STOR"));
  CHECK_FALSE(CommandPermitted(config, "DELE"));
  config.cmds_allowed.clear();
  CHECK_FALSE(CommandPermitted(config, "RMD"));
  CHECK(CommandPermitted(config, "STOR"));
}

// ---- PBSZ and PROT ----

TEST_CASE("PBSZ without TLS is refused with 503 and changes nothing") {
  Control c;
  ProtState state;
  HandlePbsz(c.ctrl, false, "0", &state);
  CHECK(c.Reply() == "503 PBSZ needs a TLS connection: AUTH TLS first.\r\n");
  CHECK_FALSE(state.pbsz);
  CHECK_FALSE(state.private_data);
}

TEST_CASE("PBSZ over TLS is always answered with size 0 and recorded") {
  for (std::string_view arg : {"0", " 0 ", "\t0"}) {
    CAPTURE(arg);
    Control c;
    ProtState state;
    HandlePbsz(c.ctrl, true, arg, &state);
    CHECK(c.Reply() == "200 PBSZ set to 0.\r\n");
    CHECK(state.pbsz);
    CHECK_FALSE(state.private_data);
  }
  // Any other size: the reply says the size is 0 (RFC 4217, 8.1).
  for (std::string_view arg : {"1024", "", "00", "x"}) {
    CAPTURE(arg);
    Control c;
    ProtState state;
    HandlePbsz(c.ctrl, true, arg, &state);
    CHECK(c.Reply() == "200 PBSZ=0\r\n");
    CHECK(state.pbsz);
  }
}

TEST_CASE("PROT without TLS is refused with 503 and changes nothing") {
  Control c;
  ProtState state;
  state.private_data = true;
  HandleProt(c.ctrl, false, "C", &state);
  CHECK(c.Reply() == "503 PROT needs a TLS connection: AUTH TLS first.\r\n");
  CHECK(state.private_data);
  state.private_data = false;
  HandleProt(c.ctrl, false, "P", &state);
  CHECK(c.Reply() == "503 PROT needs a TLS connection: AUTH TLS first.\r\n");
  CHECK_FALSE(state.private_data);
}

TEST_CASE("PROT P and PROT C over TLS switch the data protection, in any case") {
  Control c;
  ProtState state;
  HandleProt(c.ctrl, true, "P", &state);
  CHECK(c.Reply() == "200 PROT now Private.\r\n");
  CHECK(state.private_data);
  CHECK_FALSE(state.pbsz);  // accepted without PBSZ, as vsftpd does
  HandleProt(c.ctrl, true, "c", &state);
  CHECK(c.Reply() == "200 PROT now Clear.\r\n");
  CHECK_FALSE(state.private_data);
  HandleProt(c.ctrl, true, " p ", &state);
  CHECK(c.Reply() == "200 PROT now Private.\r\n");
  CHECK(state.private_data);
  HandleProt(c.ctrl, true, "C", &state);
  CHECK(c.Reply() == "200 PROT now Clear.\r\n");
  CHECK_FALSE(state.private_data);
}

TEST_CASE("PROT S and E are not supported (536), other levels unknown (504), state kept") {
  for (bool private_data : {false, true}) {
    CAPTURE(private_data);
    Control c;
    ProtState state;
    state.private_data = private_data;
    for (std::string_view arg : {"S", "e"}) {
      CAPTURE(arg);
      HandleProt(c.ctrl, true, arg, &state);
      CHECK(c.Reply() == "536 PROT level not supported.\r\n");
      CHECK(state.private_data == private_data);
    }
    for (std::string_view arg : {"", "X", "PP", "P C", "Private"}) {
      CAPTURE(arg);
      HandleProt(c.ctrl, true, arg, &state);
      CHECK(c.Reply() == "504 Unknown PROT level.\r\n");
      CHECK(state.private_data == private_data);
    }
  }
}

}  // namespace
}  // namespace keepftpd
