// Tests for src/common/strutil.cc: ASCII-only case mapping and comparison, trimming, strict decimal
// parsing with its bounds, splitting, and the checks and replacements for control bytes.
#include "strutil.h"

#include <doctest/doctest.h>

#include <climits>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keepftpd {
namespace {

using std::string_view_literals::operator""sv;  // "a\0b"sv keeps the NUL

// Every byte value, in order, for the checks that must hold for all of them.
std::string AllBytes() {
  std::string s;
  for (int b = 0; b < 256; ++b) s.push_back(static_cast<char>(b));
  return s;
}

TEST_CASE("AsciiUpper and AsciiLower map only a-z and A-Z, and keep every other byte and the length") {
  CHECK(AsciiUpper("") == "");
  CHECK(AsciiLower("") == "");
  CHECK(AsciiUpper("retr file.TXT") == "RETR FILE.TXT");
  CHECK(AsciiLower("RETR File.txt") == "retr file.txt");
  // The neighbours of the letter ranges are not letters.
  CHECK(AsciiUpper("@[`{") == "@[`{");
  CHECK(AsciiLower("@[`{") == "@[`{");
  CHECK(AsciiUpper("az") == "AZ");
  CHECK(AsciiLower("AZ") == "az");
  // A NUL inside is kept and does not end the string.
  CHECK(AsciiUpper("a\0b"sv) == "A\0B"sv);
  // Bytes above 0x7f are left alone: no Latin-1 folding, UTF-8 sequences intact.
  CHECK(AsciiUpper("\xe9\xc3\xa9") == "\xe9\xc3\xa9");
  CHECK(AsciiLower("\xc9\xc3\x89") == "\xc9\xc3\x89");

  const std::string all = AllBytes();
  const std::string upper = AsciiUpper(all), lower = AsciiLower(all);
  CHECK(upper.size() == 256);
  CHECK(lower.size() == 256);
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const char want_upper = (b >= 'a' && b <= 'z') ? static_cast<char>(b - 32) : c;
    const char want_lower = (b >= 'A' && b <= 'Z') ? static_cast<char>(b + 32) : c;
    CHECK_MESSAGE(upper[b] == want_upper, "byte ", b);
    CHECK_MESSAGE(lower[b] == want_lower, "byte ", b);
  }
}

TEST_CASE("EqualsIgnoreCase folds ASCII letters only and needs equal lengths") {
  CHECK(EqualsIgnoreCase("", ""));
  CHECK(EqualsIgnoreCase("USER", "user"));
  CHECK(EqualsIgnoreCase("uSeR", "UsEr"));
  CHECK_FALSE(EqualsIgnoreCase("USER", "USERS"));
  CHECK_FALSE(EqualsIgnoreCase("", "a"));
  CHECK_FALSE(EqualsIgnoreCase("USER", "USEX"));
  // 0x40/0x60, 0x5b/0x7b etc. differ by the case bit but are not letters.
  CHECK_FALSE(EqualsIgnoreCase("@", "`"));
  CHECK_FALSE(EqualsIgnoreCase("[", "{"));
  CHECK_FALSE(EqualsIgnoreCase("^", "~"));
  // Latin-1 e-acute and E-acute are different bytes, not folded.
  CHECK_FALSE(EqualsIgnoreCase("\xe9", "\xc9"));
  CHECK(EqualsIgnoreCase("\xe9", "\xe9"));
  // NUL is compared like any byte.
  CHECK(EqualsIgnoreCase("a\0b"sv, "A\0B"sv));
  CHECK_FALSE(EqualsIgnoreCase("a\0b"sv, "a\0c"sv));
}

TEST_CASE("StartsWith is an exact, case-sensitive prefix test") {
  CHECK(StartsWith("", ""));
  CHECK(StartsWith("abc", ""));
  CHECK(StartsWith("abc", "abc"));
  CHECK(StartsWith("abc", "ab"));
  CHECK_FALSE(StartsWith("", "a"));
  CHECK_FALSE(StartsWith("ab", "abc"));
  CHECK_FALSE(StartsWith("abc", "AB"));
  CHECK_FALSE(StartsWith("abc", "bc"));
  CHECK(StartsWith("\0ab"sv, "\0"sv));
  CHECK_FALSE(StartsWith("ab"sv, "a\0"sv));
}

TEST_CASE("TrimSpaces removes spaces and tabs at both ends only, as a view into the input") {
  CHECK(TrimSpaces("") == "");
  CHECK(TrimSpaces(" ") == "");
  CHECK(TrimSpaces(" \t \t") == "");
  CHECK(TrimSpaces("a") == "a");
  CHECK(TrimSpaces(" \ta b\t ") == "a b");
  CHECK(TrimSpaces("a \t b") == "a \t b");
  // CR, LF, vertical tab, form feed, NUL and a no-break space are not trimmed.
  CHECK(TrimSpaces("\r\na\r\n") == "\r\na\r\n");
  CHECK(TrimSpaces("\va\f") == "\va\f");
  CHECK(TrimSpaces("\0a\0"sv) == "\0a\0"sv);
  CHECK(TrimSpaces("\xa0x\xa0") == "\xa0x\xa0");

  const std::string_view input = "  value\t";
  const std::string_view trimmed = TrimSpaces(input);
  CHECK(trimmed.data() == input.data() + 2);
  CHECK(trimmed.size() == 5);
}

TEST_CASE("ParseDecimal refuses empty input and anything but the digits 0-9") {
  CHECK_FALSE(ParseDecimal("", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("+1", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("-1", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("-0", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal(" 1", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("1 ", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("1\t", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("1a", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("0x10", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("1e3", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("1.0", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("1,000", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("1\0"sv, UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("\0"sv, UINT64_MAX).has_value());
  // '/' and ':' are the neighbours of the digits.
  CHECK_FALSE(ParseDecimal("/", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal(":", UINT64_MAX).has_value());
  // Bytes above 0x7f (negative as char) and non-ASCII digits: U+0661 ARABIC-INDIC ONE and
  // U+FF11 FULLWIDTH ONE in UTF-8, and 0xb1 (plus-minus in Latin-1).
  CHECK_FALSE(ParseDecimal("\xd9\xa1", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("\xef\xbc\x91", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("\xb1", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("1\xb0", UINT64_MAX).has_value());
}

TEST_CASE("ParseDecimal reads digits, with leading zeros, up to 20 characters") {
  CHECK(ParseDecimal("0", UINT64_MAX) == 0u);
  CHECK(ParseDecimal("7", UINT64_MAX) == 7u);
  CHECK(ParseDecimal("0123", UINT64_MAX) == 123u);
  CHECK(ParseDecimal("00000000000000000001", UINT64_MAX) == 1u);      // 20 characters
  CHECK_FALSE(ParseDecimal("000000000000000000001", UINT64_MAX).has_value());  // 21
  CHECK_FALSE(ParseDecimal(std::string(1000, '0'), UINT64_MAX).has_value());
}

TEST_CASE("ParseDecimal refuses a digit above a small max") {
  CHECK_FALSE(ParseDecimal("7", 5).has_value());
  CHECK_FALSE(ParseDecimal("1", 0).has_value());
  CHECK_FALSE(ParseDecimal("09", 3).has_value());
  CHECK(ParseDecimal("0", 0) == std::optional<std::uint64_t>(0));
  CHECK(ParseDecimal("5", 5) == std::optional<std::uint64_t>(5));
}

TEST_CASE("ParseDecimal accepts exactly max and refuses max + 1 at every bound its callers use") {
  // UINT64_MAX: the largest value, and the first one that overflows 64 bits.
  CHECK(ParseDecimal("18446744073709551615", UINT64_MAX) == UINT64_MAX);
  CHECK_FALSE(ParseDecimal("18446744073709551616", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("18446744073709551620", UINT64_MAX).has_value());
  CHECK_FALSE(ParseDecimal("99999999999999999999", UINT64_MAX).has_value());
  // A value that wraps to a small number when multiplied without a check.
  CHECK_FALSE(ParseDecimal("36893488147419103232", UINT64_MAX).has_value());  // 2^65
  // INT64_MAX (REST), UINT_MAX (config numbers), 65535 (ports), 255 (address bytes).
  CHECK(ParseDecimal("9223372036854775807", INT64_MAX) == static_cast<std::uint64_t>(INT64_MAX));
  CHECK_FALSE(ParseDecimal("9223372036854775808", INT64_MAX).has_value());
  CHECK(ParseDecimal("4294967295", UINT_MAX) == UINT_MAX);
  CHECK_FALSE(ParseDecimal("4294967296", UINT_MAX).has_value());
  CHECK(ParseDecimal("65535", 65535) == 65535u);
  CHECK_FALSE(ParseDecimal("65536", 65535).has_value());
  CHECK_FALSE(ParseDecimal("65540", 65535).has_value());
  CHECK(ParseDecimal("255", 255) == 255u);
  CHECK(ParseDecimal("0255", 255) == 255u);
  CHECK_FALSE(ParseDecimal("256", 255).has_value());
  CHECK_FALSE(ParseDecimal("260", 255).has_value());
  CHECK_FALSE(ParseDecimal("1000", 255).has_value());
  // Small bounds: a last digit of max itself, and one more digit.
  CHECK(ParseDecimal("9", 9) == 9u);
  CHECK_FALSE(ParseDecimal("10", 9).has_value());
  CHECK(ParseDecimal("10", 10) == 10u);
  CHECK_FALSE(ParseDecimal("11", 10).has_value());
  CHECK(ParseDecimal("0", 0) == 0u);
  CHECK(ParseDecimal("000", 0) == 0u);
  CHECK_FALSE(ParseDecimal("10", 0).has_value());
}

TEST_CASE("Split keeps empty fields, so n separators always give n + 1 fields") {
  using Fields = std::vector<std::string_view>;
  CHECK(Split("", ',') == Fields{""});
  CHECK(Split("a", ',') == Fields{"a"});
  CHECK(Split(",", ',') == Fields{"", ""});
  CHECK(Split(",,", ',') == Fields{"", "", ""});
  CHECK(Split("a,b", ',') == Fields{"a", "b"});
  CHECK(Split(",a,,b,", ',') == Fields{"", "a", "", "b", ""});
  CHECK(Split("1,2,3,4,5,6", ',') == Fields{"1", "2", "3", "4", "5", "6"});
  // Only the separator splits; spaces stay in the fields.
  CHECK(Split(" a , b ", ',') == Fields{" a ", " b "});
  // NUL and bytes above 0x7f can be separators or field content.
  CHECK(Split("a\0b"sv, '\0') == Fields{"a", "b"});
  CHECK(Split("a\0b"sv, ',') == Fields{"a\0b"sv});
  CHECK(Split("x\xffy\xff", '\xff') == Fields{"x", "y", ""});
  CHECK(Split("|1|::1|2121|", '|') == Fields{"", "1", "::1", "2121", ""});

  // The fields are views into the input.
  const std::string_view input = "ab:cd";
  const Fields f = Split(input, ':');
  CHECK(f.size() == 2);
  if (f.size() == 2) {
    CHECK(f[0].data() == input.data());
    CHECK(f[1].data() == input.data() + 3);
  }
}

TEST_CASE("LowerHex writes each byte as two lower-case hex digits, in order") {
  CHECK(LowerHex("") == "");
  CHECK(LowerHex(std::string_view("\x00\x01\x0f\x10\xab\xff", 6)) == "00010f10abff");
  const std::string all = LowerHex(AllBytes());
  CHECK(all.size() == 512);
  CHECK(all.substr(0, 8) == "00010203");
  CHECK(all.substr(508) == "feff");
  CHECK(all.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("HasControlLineBytes finds NUL, CR and LF anywhere, and no other byte") {
  CHECK_FALSE(HasControlLineBytes(""));
  CHECK(HasControlLineBytes("\0"sv));
  CHECK(HasControlLineBytes("\r"));
  CHECK(HasControlLineBytes("\n"));
  CHECK(HasControlLineBytes("file\0.txt"sv));
  CHECK(HasControlLineBytes("file.txt\r\n"));
  CHECK(HasControlLineBytes("\nfile"));
  CHECK(HasControlLineBytes("a\rb"));
  const std::string all = AllBytes();
  for (int b = 0; b < 256; ++b) {
    const bool want = b == 0 || b == '\r' || b == '\n';
    CHECK_MESSAGE(HasControlLineBytes(std::string_view(&all[b], 1)) == want, "byte ", b);
  }
}

TEST_CASE("SanitizeForLog replaces C0 and C1 controls and DEL with '?' and keeps the rest") {
  CHECK(SanitizeForLog("") == "");
  CHECK(SanitizeForLog("plain text: /pub/a b.txt") == "plain text: /pub/a b.txt");
  CHECK(SanitizeForLog("a\r\nb") == "a??b");
  CHECK(SanitizeForLog("\0"sv) == "?");
  CHECK(SanitizeForLog("x\0y"sv) == "x?y");
  CHECK(SanitizeForLog("\x1b[31mred") == "?[31mred");
  CHECK(SanitizeForLog("tab\there") == "tab?here");
  CHECK(SanitizeForLog("del\x7f") == "del?");
  // UTF-8 passes through unchanged, even where its bytes are in 0x80-0x9f (the euro sign).
  CHECK(SanitizeForLog("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  // A C1 control: CSI as one byte (what an 8-bit terminal obeys), and U+009B in UTF-8 (what a
  // UTF-8 terminal obeys).
  CHECK(SanitizeForLog("a\x9b" "31mb") == "a?31mb");
  CHECK(SanitizeForLog("a\xc2\x9b" "31mb") == "a??31mb");
  CHECK(SanitizeForLog("\xc2\x85") == "??");
  // U+00A0 and above are characters, not controls.
  CHECK(SanitizeForLog("\xc2\xa0") == "\xc2\xa0");
  // Other bytes that are not UTF-8 (Latin-1 names) stay: they are no controls.
  CHECK(SanitizeForLog("caf\xe9") == "caf\xe9");
  // A truncated or overlong sequence is not a character: its 0x80-0x9f bytes are C1 controls.
  CHECK(SanitizeForLog("\xe2\x82") == "\xe2?");
  CHECK(SanitizeForLog("\xc0\x9b") == "\xc0?");
  CHECK(SanitizeForLog("\xed\x9f\xbf") == "\xed\x9f\xbf");  // U+D7FF
  CHECK(SanitizeForLog("\xed\xa0\x80") == "\xed\xa0?");  // a surrogate, not UTF-8
  // Quotes are text here (replies quote names their own way); LogName replaces them too.
  CHECK(SanitizeForLog("a\"b") == "a\"b");
  CHECK(LogName("we\"ird\x1b\x9b\xc2\x9b\xe2\x82\xac") == "we?ird????\xe2\x82\xac");

  const std::string all = AllBytes();
  const std::string out = SanitizeForLog(all);
  CHECK(out.size() == 256);
  for (int b = 0; b < 256; ++b) {
    // One byte after another, none of 0x80-0xff makes a valid character with the next.
    const bool control = b < 0x20 || b == 0x7f || (b >= 0x80 && b <= 0x9f);
    const char want = control ? '?' : static_cast<char>(b);
    CHECK_MESSAGE(out[b] == want, "byte ", b);
  }
}

}  // namespace
}  // namespace keepftpd
