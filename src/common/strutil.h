// Small bounded string helpers: ASCII case, trimming, strict number parsing, splitting. Pure
// logic, shared by every process.
#ifndef KEEPFTPD_SRC_COMMON_STRUTIL_H_
#define KEEPFTPD_SRC_COMMON_STRUTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keepftpd {

std::string AsciiUpper(std::string_view s);
std::string AsciiLower(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWith(std::string_view s, std::string_view prefix);
std::string_view TrimSpaces(std::string_view s);  // ' ' and '\t' at both ends

// Strict unsigned decimal: digits only (no sign, no spaces), value <= max. Empty -> nullopt.
std::optional<std::uint64_t> ParseDecimal(std::string_view s, std::uint64_t max);

// Splits on sep; empty fields are kept.
std::vector<std::string_view> Split(std::string_view s, char sep);

// Each byte as two lower-case hex digits ("\x01\xab" -> "01ab").
std::string LowerHex(std::string_view bytes);

// True when s contains a NUL, CR or LF byte.
bool HasControlLineBytes(std::string_view s);

// Replaces every control character with '?', for text that goes into logs and replies: the
// bytes below 0x20, 0x7f, and the C1 controls, whether a byte 0x80-0x9f outside a UTF-8
// character or U+0080-U+009F written in UTF-8 (each of its two bytes). UTF-8 text and other
// bytes stay as they are. Nothing in the result can move a terminal's cursor or end a line.
std::string SanitizeForLog(std::string_view s);

// A name (file, directory, user, password) as it is written inside a log line:
// SanitizeForLog, and '"' as '?' too, so that a name between quotes cannot close them and
// forge the fields after it. vsftpd writes unprintable bytes as '?' as well.
std::string LogName(std::string_view s);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_STRUTIL_H_
