// Fuzz target: one FTP command line as the control connection delivers it (telnet bytes and
// all) through StripTelnet, ParseCommandLine and the TYPE/REST/MODE/STRU argument grammars.
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

  if (keepftpd::IsModeStream(cmd.arg)) FUZZ_CHECK(cmd.arg == "S" || cmd.arg == "s");
  if (keepftpd::IsStruFile(cmd.arg)) FUZZ_CHECK(cmd.arg == "F" || cmd.arg == "f");
  return 0;
}
