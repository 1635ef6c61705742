// Tests for src/jail/ftp_command.cc: command-line splitting, telnet stripping, TYPE/MODE/STRU/REST
// grammars, the ASCII encoder and the MDTM time format.
#include "ftp_command.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

namespace keepftpd {
namespace {

// Builds a string from bytes that may include 0xFF and NUL.
std::string Bytes(std::initializer_list<unsigned char> bytes) {
  std::string s;
  for (unsigned char b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

constexpr unsigned char kIac = 255, kIp = 244, kDm = 242, kWill = 251, kWont = 252, kDo = 253,
                        kDont = 254, kNop = 241;

TEST_CASE("The verb is upper-cased and the argument kept as sent") {
  FtpCommand c = ParseCommandLine("retr My File.txt");
  CHECK(c.verb == "RETR");
  CHECK(c.arg == "My File.txt");
  CHECK(c.has_arg);

  c = ParseCommandLine("XpWd");
  CHECK(c.verb == "XPWD");
  CHECK(c.arg.empty());
  CHECK_FALSE(c.has_arg);

  c = ParseCommandLine("STOR  two  spaces ");
  CHECK(c.verb == "STOR");
  CHECK(c.arg == " two  spaces ");
  CHECK(c.has_arg);

  c = ParseCommandLine("CWD ");
  CHECK(c.verb == "CWD");
  CHECK(c.arg.empty());
  CHECK(c.has_arg);

  c = ParseCommandLine("");
  CHECK(c.verb.empty());
  CHECK_FALSE(c.has_arg);

  c = ParseCommandLine(" NOOP");
  CHECK(c.verb.empty());
  CHECK(c.arg == "NOOP");
  CHECK(c.has_arg);
}

TEST_CASE("Upper-casing follows ASCII rules only") {
  FtpCommand c = ParseCommandLine("st\xc3\xa9r x");
  CHECK(c.verb == "ST\xc3\xa9R");
  c = ParseCommandLine("list -la");
  CHECK(c.verb == "LIST");
  CHECK(c.arg == "-la");
}

TEST_CASE("A trailing CR left by a bare-LF split is removed, once") {
  CHECK(ParseCommandLine("NOOP\r").verb == "NOOP");
  FtpCommand c = ParseCommandLine("RETR file\r");
  CHECK(c.arg == "file");
  c = ParseCommandLine("RETR file\r\r");
  CHECK(c.arg == "file\r");
  c = ParseCommandLine("RETR a\rb");
  CHECK(c.arg == "a\rb");
  c = ParseCommandLine("RETR file\n");  // the caller removes line ends; an LF is kept
  CHECK(c.arg == "file\n");
}

TEST_CASE("StripTelnet removes telnet sequences") {
  // IAC IP IAC DM before ABOR, as clients send it to interrupt a transfer.
  CHECK(StripTelnet(Bytes({kIac, kIp, kIac, kDm}) + "ABOR") == "ABOR");
  // IAC IAC is a literal 0xFF byte.
  CHECK(StripTelnet("a" + Bytes({kIac, kIac}) + "b") == "a\xff" "b");
  CHECK(StripTelnet(Bytes({kIac, kIac, kIac, kIac})) == "\xff\xff");
  // Option negotiation takes three bytes.
  for (unsigned char verb : {kWill, kWont, kDo, kDont}) {
    CAPTURE(static_cast<int>(verb));
    CHECK(StripTelnet("NO" + Bytes({kIac, verb, 'x'}) + "OP") == "NOOP");
    CHECK(StripTelnet("NO" + Bytes({kIac, verb, kIac}) + "OP") == "NOOP");
  }
  // Other commands take two.
  CHECK(StripTelnet(Bytes({kIac, kNop}) + "PWD") == "PWD");
  CHECK(StripTelnet("P" + Bytes({kIac, 'X'}) + "WD") == "PWD");
  // Truncated sequences at the end vanish.
  CHECK(StripTelnet("PWD" + Bytes({kIac})) == "PWD");
  CHECK(StripTelnet("PWD" + Bytes({kIac, kWill})) == "PWD");
  // Nothing to do.
  CHECK(StripTelnet("") == "");
  CHECK(StripTelnet("plain text") == "plain text");
  CHECK(StripTelnet(std::string_view("a\0b", 3)) == std::string("a\0b", 3));
}

TEST_CASE("ParseCommandLine strips telnet sequences") {
  FtpCommand c = ParseCommandLine(Bytes({kIac, kIp, kIac, kDm}) + "abor");
  CHECK(c.verb == "ABOR");
  CHECK_FALSE(c.has_arg);
  c = ParseCommandLine("RETR a" + Bytes({kIac, kIac}) + "b\r");
  CHECK(c.arg == "a\xff" "b");
  c = ParseCommandLine("NOOP" + Bytes({kIac, kWill, 1}) + "\r");
  CHECK(c.verb == "NOOP");
}

struct TypeCase {
  const char* arg;
  TypeParse::Outcome outcome;
  TransferType type;  // checked only for kOk
};

TEST_CASE("TYPE grammar: supported, unsupported and syntax errors") {
  const TypeCase cases[] = {
      {"A", TypeParse::kOk, TransferType::kAscii},
      {"a", TypeParse::kOk, TransferType::kAscii},
      {"A N", TypeParse::kOk, TransferType::kAscii},
      {"a n", TypeParse::kOk, TransferType::kAscii},
      {"I", TypeParse::kOk, TransferType::kImage},
      {"i", TypeParse::kOk, TransferType::kImage},
      {"L 8", TypeParse::kOk, TransferType::kImage},
      {"l 8", TypeParse::kOk, TransferType::kImage},
      {"A T", TypeParse::kUnsupported, TransferType::kAscii},
      {"A C", TypeParse::kUnsupported, TransferType::kAscii},
      {"a t", TypeParse::kUnsupported, TransferType::kAscii},
      {"E", TypeParse::kUnsupported, TransferType::kAscii},
      {"e", TypeParse::kUnsupported, TransferType::kAscii},
      {"E N", TypeParse::kUnsupported, TransferType::kAscii},
      {"E T", TypeParse::kUnsupported, TransferType::kAscii},
      {"E C", TypeParse::kUnsupported, TransferType::kAscii},
      {"L 7", TypeParse::kUnsupported, TransferType::kAscii},
      {"L 16", TypeParse::kUnsupported, TransferType::kAscii},
      {"L 36", TypeParse::kUnsupported, TransferType::kAscii},
      {"", TypeParse::kSyntax, TransferType::kAscii},
      {"X", TypeParse::kSyntax, TransferType::kAscii},
      {"L", TypeParse::kSyntax, TransferType::kAscii},
      {"L x", TypeParse::kSyntax, TransferType::kAscii},
      {"L -8", TypeParse::kSyntax, TransferType::kAscii},
      {"L 8 ", TypeParse::kSyntax, TransferType::kAscii},
      {"L  8", TypeParse::kSyntax, TransferType::kAscii},
      {"L8", TypeParse::kSyntax, TransferType::kAscii},
      {"AN", TypeParse::kSyntax, TransferType::kAscii},
      {"A ", TypeParse::kSyntax, TransferType::kAscii},
      {" A", TypeParse::kSyntax, TransferType::kAscii},
      {"A  N", TypeParse::kSyntax, TransferType::kAscii},
      {"A X", TypeParse::kSyntax, TransferType::kAscii},
      {"A N N", TypeParse::kSyntax, TransferType::kAscii},
      {"I N", TypeParse::kSyntax, TransferType::kAscii},
      {"I ", TypeParse::kSyntax, TransferType::kAscii},
      {"E X", TypeParse::kSyntax, TransferType::kAscii},
      {"ASCII", TypeParse::kSyntax, TransferType::kAscii},
      {"binary", TypeParse::kSyntax, TransferType::kAscii},
  };
  for (const TypeCase& tc : cases) {
    CAPTURE(tc.arg);
    TypeParse p = ParseTypeArgument(tc.arg);
    CHECK(p.outcome == tc.outcome);
    if (tc.outcome == TypeParse::kOk) CHECK(p.type == tc.type);
  }
}

TEST_CASE("MODE S and STRU F are the only supported values") {
  CHECK(IsModeStream("S"));
  CHECK(IsModeStream("s"));
  for (const char* arg : {"", "B", "C", "Z", "S ", " S", "SS"}) {
    CAPTURE(arg);
    CHECK_FALSE(IsModeStream(arg));
  }
  CHECK(IsStruFile("F"));
  CHECK(IsStruFile("f"));
  for (const char* arg : {"", "R", "P", "F ", " F", "FF"}) {
    CAPTURE(arg);
    CHECK_FALSE(IsStruFile(arg));
  }
}

TEST_CASE("REST takes a strict decimal offset up to INT64_MAX") {
  Result<std::uint64_t> r = ParseRestOffset("0");
  CHECK(r.ok());
  if (r.ok()) CHECK(*r == 0);
  r = ParseRestOffset("1048576");
  CHECK(r.ok());
  if (r.ok()) CHECK(*r == 1048576);
  r = ParseRestOffset("9223372036854775807");
  CHECK(r.ok());
  if (r.ok()) CHECK(*r == static_cast<std::uint64_t>(INT64_MAX));
  r = ParseRestOffset("0009");
  CHECK(r.ok());
  if (r.ok()) CHECK(*r == 9);

  for (const char* arg : {"", "9223372036854775808", "18446744073709551615",
                          "18446744073709551616", "99999999999999999999999", "-1", "+1", " 1",
                          "1 ", "1x", "0x10", "1.5", "1e3"}) {
    CAPTURE(arg);
    CHECK_FALSE(ParseRestOffset(arg).ok());
  }
}

std::string Encode(std::initializer_list<std::string_view> parts) {
  AsciiEncoder enc;
  std::string out;
  for (std::string_view p : parts) enc.Convert(p, &out);
  return out;
}

TEST_CASE("AsciiEncoder turns LF into CRLF and leaves CRLF alone") {
  CHECK(Encode({"a\nb\n"}) == "a\r\nb\r\n");
  CHECK(Encode({"a\r\nb\r\n"}) == "a\r\nb\r\n");
  CHECK(Encode({"\n\n"}) == "\r\n\r\n");
  CHECK(Encode({"\r\r\n"}) == "\r\r\n");
  CHECK(Encode({"no newline"}) == "no newline");
  CHECK(Encode({""}) == "");
  CHECK(Encode({"lone\rcr"}) == "lone\rcr");
}

TEST_CASE("AsciiEncoder keeps its state across buffer splits") {
  // CR at the end of one buffer, LF at the start of the next: not doubled.
  CHECK(Encode({"line\r", "\nnext"}) == "line\r\nnext");
  CHECK(Encode({"line\r", "", "\n"}) == "line\r\n");
  // LF at the start of a buffer after a non-CR byte: converted.
  CHECK(Encode({"line", "\nnext"}) == "line\r\nnext");
  CHECK(Encode({"a\n", "\n"}) == "a\r\n\r\n");
  // A CR that was followed by something else no longer protects a later LF.
  CHECK(Encode({"a\r", "b", "\n"}) == "a\rb\r\n");
  // Byte-at-a-time gives the same result as one buffer.
  const std::string text = "x\ny\r\nz\r\r\n\n";
  AsciiEncoder enc;
  std::string out;
  for (char c : text) enc.Convert(std::string_view(&c, 1), &out);
  CHECK(out == Encode({text}));
  // Convert appends.
  std::string existing = "prefix:";
  AsciiEncoder e2;
  e2.Convert("a\n", &existing);
  CHECK(existing == "prefix:a\r\n");
}

TEST_CASE("FormatMdtmTime prints UTC as YYYYMMDDHHMMSS") {
  CHECK(FormatMdtmTime(0) == "19700101000000");
  CHECK(FormatMdtmTime(1) == "19700101000001");
  CHECK(FormatMdtmTime(951782400) == "20000229000000");  // a leap day
  CHECK(FormatMdtmTime(1234567890) == "20090213233130");
  CHECK(FormatMdtmTime(2147483647) == "20380119031407");
  CHECK(FormatMdtmTime(2147483648) == "20380119031408");  // past 32-bit time_t
  CHECK(FormatMdtmTime(-1) == "19691231235959");
  CHECK(FormatMdtmTime(253402300799) == "99991231235959");
  // Beyond four year digits: a well-formed time, never a longer string.
  CHECK(FormatMdtmTime(253402300800).size() == 14);
  CHECK(FormatMdtmTime(INT64_MAX).size() == 14);
  CHECK(FormatMdtmTime(INT64_MIN).size() == 14);
}

}  // namespace
}  // namespace keepftpd

namespace keepftpd {
namespace {

std::string DecodeInPieces(std::string_view text, std::size_t piece) {
  AsciiDecoder d;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += piece) d.Convert(text.substr(i, piece), &out);
  d.Finish(&out);
  return out;
}

TEST_CASE("AsciiDecoder turns CRLF into LF across buffer boundaries") {
  const std::string text = "one\r\ntwo\r\n\r\nlone\rcr\nlf\r";
  const std::string want = "one\ntwo\n\nlone\rcr\nlf\r";
  for (std::size_t piece = 1; piece <= text.size(); ++piece) {
    CAPTURE(piece);
    CHECK(DecodeInPieces(text, piece) == want);
  }
  CHECK(DecodeInPieces("", 1).empty());
}

}  // namespace
}  // namespace keepftpd

namespace keepftpd {
namespace {

TEST_CASE("ParseMdtmTime reads what FormatMdtmTime writes, and nothing else") {
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{1577880000}, std::int64_t{4102444799}}) {
    Result<std::int64_t> r = ParseMdtmTime(FormatMdtmTime(t));
    CHECK(r.ok());
    if (r.ok()) CHECK(*r == t);
  }
  CHECK(ParseMdtmTime("20200101120000.123").ok());
  for (const char* bad : {"", "2020010112000", "202001011200000", "20201301120000",
                          "20200230120000", "2020010112000x", "20200101120000.",
                          "20200101 120000", "-2020010112000"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseMdtmTime(bad).ok());
  }
}

}  // namespace
}  // namespace keepftpd

namespace keepftpd {
namespace {

TEST_CASE("SITE: subcommand upper-cased, the rest trimmed") {
  SiteArgument s = ParseSiteArgument("  chmod  755 a b ");
  CHECK(s.sub == "CHMOD");
  CHECK(s.rest == "755 a b");
  s = ParseSiteArgument("help");
  CHECK(s.sub == "HELP");
  CHECK(s.rest.empty());
  CHECK(ParseSiteArgument("").sub.empty());
}

TEST_CASE("octal modes: 1 to 4 octal digits within the maximum") {
  unsigned v = 1;
  CHECK(ParseOctalMode("022", 0777, &v));
  CHECK(v == 022);
  CHECK(ParseOctalMode("0", 0777, &v));
  CHECK(v == 0);
  CHECK(ParseOctalMode("4755", 07777, &v));
  CHECK(v == 04755);
  CHECK_FALSE(ParseOctalMode("4755", 0777, &v));
  CHECK_FALSE(ParseOctalMode("", 0777, &v));
  CHECK_FALSE(ParseOctalMode("00755", 07777, &v));
  CHECK_FALSE(ParseOctalMode("8", 0777, &v));
  CHECK_FALSE(ParseOctalMode("-1", 0777, &v));
  CHECK_FALSE(ParseOctalMode("7 5", 0777, &v));
}

TEST_CASE("SITE CHMOD: a mode and a path") {
  ChmodArgument a = ParseChmodArgument("644 my file.txt");
  CHECK(a.outcome == ChmodArgument::kOk);
  CHECK(a.mode == 0644);
  CHECK(a.path == "my file.txt");
  CHECK(ParseChmodArgument("644").outcome == ChmodArgument::kMissingPath);
  CHECK(ParseChmodArgument("").outcome == ChmodArgument::kMissingPath);
  CHECK(ParseChmodArgument("rwx file").outcome == ChmodArgument::kBadMode);
  CHECK(ParseChmodArgument("17777 file").outcome == ChmodArgument::kBadMode);
}

}  // namespace
}  // namespace keepftpd
