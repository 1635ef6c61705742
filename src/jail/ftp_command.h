// FTP command lines: telnet IAC stripping, splitting into verb and argument, and the small
// argument grammars (TYPE, MODE, STRU, REST), plus the LF -> CRLF conversion of ASCII downloads.
// Pure logic, used by the jails.
#ifndef KEEPFTPD_SRC_JAIL_FTP_COMMAND_H_
#define KEEPFTPD_SRC_JAIL_FTP_COMMAND_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "status.h"

namespace keepftpd {

inline constexpr std::size_t kMaxCommandLine = 4096;  // bytes, line end included

// Removes telnet sequences (RFC 854) from a raw command line: IAC IAC -> one 0xFF byte;
// IAC WILL/WONT/DO/DONT <opt> -> removed (3 bytes); IAC <any other> -> removed (2 bytes, so
// IAC IP and IAC DM before ABOR vanish); a lone IAC at the end -> removed.
std::string StripTelnet(std::string_view raw);

struct FtpCommand {
  std::string verb;  // upper-cased ASCII, at most 4..N letters as sent (e.g. "RETR", "XPWD")
  std::string arg;   // everything after the first space, as sent (may be empty, may contain spaces)
  bool has_arg = false;  // a space followed the verb
};

// line: one line without its line end (the caller removed "\r\n" or "\n"; a trailing '\r' left
// over is removed here too). Telnet stripping is done here as well.
FtpCommand ParseCommandLine(std::string_view line);

// TYPE: "A", "A N", "I", "L 8" (case-insensitive) are supported. "E", "A T", "A C", "L 7"...
// are valid but unsupported (reply 504); anything else is a syntax error (reply 501).
enum class TransferType { kAscii, kImage };
struct TypeParse {
  enum Outcome { kOk, kUnsupported, kSyntax } outcome = kSyntax;
  TransferType type = TransferType::kAscii;
};
TypeParse ParseTypeArgument(std::string_view arg);

// MODE S / STRU F are the only supported values (case-insensitive); returns true for them.
bool IsModeStream(std::string_view arg);
bool IsStruFile(std::string_view arg);

// REST: a decimal byte offset 0..2^63-1; fails on anything else (sign, spaces, overflow).
Result<std::uint64_t> ParseRestOffset(std::string_view arg);

// SITE: the subcommand, upper-cased, and the rest of the argument, spaces trimmed
// ("chmod  755 a b " -> "CHMOD", "755 a b").
struct SiteArgument {
  std::string sub;
  std::string_view rest;
};
SiteArgument ParseSiteArgument(std::string_view arg);

// 1 to 4 octal digits ("755", "0644") with a value up to max (SITE UMASK, SITE CHMOD).
bool ParseOctalMode(std::string_view text, unsigned max, unsigned* out);

// SITE CHMOD's "MODE PATH": the mode (at most 07777) and the path, spaces around it trimmed.
struct ChmodArgument {
  enum Outcome { kOk, kMissingPath, kBadMode } outcome = kBadMode;
  unsigned mode = 0;
  std::string_view path;
};
ChmodArgument ParseChmodArgument(std::string_view rest);

// Converts LF to CRLF for ASCII-mode downloads, keeping state across calls so that a CR at the
// end of one buffer followed by LF at the start of the next is not doubled. An LF already
// preceded by CR is left alone.
class AsciiEncoder {
 public:
  // Appends the converted bytes of in to *out.
  void Convert(std::string_view in, std::string* out);
  // Writes the converted bytes of in to out, which has room for 2 * in.size() bytes, and
  // returns the end of what it wrote.
  char* Convert(std::string_view in, char* out);

 private:
  bool last_was_cr_ = false;
};

// Converts CRLF to LF for ASCII-mode uploads (ascii_upload_enable), across buffer boundaries:
// a CR at the end of one buffer is held back until the next byte shows whether an LF follows.
// A lone CR is kept. Call Finish at the end of the upload for a held-back CR.
class AsciiDecoder {
 public:
  void Convert(std::string_view in, std::string* out);
  void Finish(std::string* out);

 private:
  bool pending_cr_ = false;
};

// Parses a "YYYYMMDDHHMMSS" UTC time (MFMT, MDTM with two arguments; an optional ".sss"
// fraction is accepted and ignored) into seconds since the epoch. Fails on anything else,
// including impossible dates.
Result<std::int64_t> ParseMdtmTime(std::string_view text);

// "YYYYMMDDHHMMSS" in UTC (MDTM, MLST modify).
std::string FormatMdtmTime(std::int64_t unix_seconds);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_JAIL_FTP_COMMAND_H_
