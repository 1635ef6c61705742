// Fuzz target: one FTP command line as the control connection delivers it (telnet bytes and
// all) through StripTelnet, ParseCommandLine and the TYPE/REST/MODE/STRU/SITE/MFMT argument
// grammars.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ftp_command.h"
#include "fuzz_common.h"

using keepftpd_fuzz::Contains;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > keepftpd::kMaxCommandLine) return 0;  // cmdio refuses longer lines
  const std::string_view raw(reinterpret_cast<const char*>(data), size);

  // Telnet stripping never grows the line, and leaves a line without IAC alone.
  const std::string stripped = keepftpd::StripTelnet(raw);
  FUZZ_CHECK(stripped.size() <= raw.size());
  if (!Contains(raw, "\xff")) FUZZ_CHECK(stripped == raw);

  const keepftpd::FtpCommand cmd = keepftpd::ParseCommandLine(raw);
  FUZZ_CHECK(!Contains(cmd.verb, " "));
  for (char c : cmd.verb) FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
  if (!cmd.has_arg) FUZZ_CHECK(cmd.arg.empty());
  FUZZ_CHECK(cmd.verb.size() + cmd.arg.size() + (cmd.has_arg ? 1 : 0) <= raw.size());

  const keepftpd::TypeParse type = keepftpd::ParseTypeArgument(cmd.arg);
  if (type.outcome == keepftpd::TypeParse::kOk) {
    FUZZ_CHECK(!cmd.arg.empty());
    const char code = static_cast<char>(cmd.arg[0] & ~0x20);  // ASCII upper case
    if (type.type == keepftpd::TransferType::kImage) {
      FUZZ_CHECK(code == 'I' || code == 'L');
    } else {
      FUZZ_CHECK(code == 'A');
    }
  }

  keepftpd::Result<std::uint64_t> rest = keepftpd::ParseRestOffset(cmd.arg);
  if (rest.ok()) {
    FUZZ_CHECK(*rest <= static_cast<std::uint64_t>(INT64_MAX));
    FUZZ_CHECK(!cmd.arg.empty());
    for (char c : cmd.arg) FUZZ_CHECK(c >= '0' && c <= '9');
  } else {
    FUZZ_CHECK(!rest.status().message().empty());
  }

  // SITE: the subcommand has no spaces and no lower case; CHMOD's mode fits 07777 and comes
  // with a path; UMASK-style modes are 1 to 4 octal digits within the maximum.
  const keepftpd::SiteArgument site = keepftpd::ParseSiteArgument(cmd.arg);
  FUZZ_CHECK(!Contains(site.sub, " "));
  for (char c : site.sub) FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
  FUZZ_CHECK(site.sub.size() + site.rest.size() <= cmd.arg.size());
  unsigned mode = 0;
  if (keepftpd::ParseOctalMode(site.rest, 0777, &mode)) {
    FUZZ_CHECK(mode <= 0777);
    FUZZ_CHECK(!site.rest.empty() && site.rest.size() <= 4);
  }
  const keepftpd::ChmodArgument chmod = keepftpd::ParseChmodArgument(site.rest);
  if (chmod.outcome == keepftpd::ChmodArgument::kOk) {
    FUZZ_CHECK(chmod.mode <= 07777);
    FUZZ_CHECK(!chmod.path.empty() && chmod.path.front() != ' ' && chmod.path.back() != ' ');
  }

  // MFMT / MDTM times: what parses formats back to the same 14 digits (but for a leap second,
  // :60, which is accepted and becomes the next minute's :00).
  keepftpd::Result<std::int64_t> when = keepftpd::ParseMdtmTime(cmd.arg);
  if (when.ok()) {
    FUZZ_CHECK(cmd.arg.size() >= 14);
    if (cmd.arg.substr(12, 2) != "60") {
      FUZZ_CHECK(keepftpd::FormatMdtmTime(*when) == cmd.arg.substr(0, 14));
    }
  }

  if (keepftpd::IsModeStream(cmd.arg)) FUZZ_CHECK(cmd.arg == "S" || cmd.arg == "s");
  if (keepftpd::IsStruFile(cmd.arg)) FUZZ_CHECK(cmd.arg == "F" || cmd.arg == "f");
  return 0;
}
