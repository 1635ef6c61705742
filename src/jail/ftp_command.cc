// FTP command lines: telnet stripping, verb/argument split, TYPE/MODE/STRU/REST grammars, ASCII
// download encoding and MDTM time. Pure logic, used by the jails.
#include "ftp_command.h"

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>

#include "strutil.h"

namespace keepftpd {

namespace {

constexpr unsigned char kIac = 255;
constexpr unsigned char kWill = 251;
constexpr unsigned char kDont = 254;  // WILL 251, WONT 252, DO 253, DONT 254

}  // namespace

std::string StripTelnet(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  std::size_t i = 0;
  while (i < raw.size()) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c != kIac) {
      out.push_back(raw[i]);
      ++i;
      continue;
    }
    if (i + 1 >= raw.size()) break;  // a lone IAC at the end
    unsigned char cmd = static_cast<unsigned char>(raw[i + 1]);
    if (cmd == kIac) {
      out.push_back(static_cast<char>(kIac));
      i += 2;
    } else if (cmd >= kWill && cmd <= kDont) {
      i += 3;  // option negotiation: IAC verb option (a missing option byte is simply gone)
    } else {
      i += 2;  // IAC IP, IAC DM, IAC NOP...
    }
  }
  return out;
}

FtpCommand ParseCommandLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const std::string clean = StripTelnet(line);
  const std::string_view rest(clean);

  FtpCommand cmd;
  std::size_t space = rest.find(' ');
  if (space == std::string_view::npos) {
    cmd.verb = AsciiUpper(rest);
  } else {
    cmd.verb = AsciiUpper(rest.substr(0, space));
    cmd.arg = std::string(rest.substr(space + 1));
    cmd.has_arg = true;
  }
  return cmd;
}

TypeParse ParseTypeArgument(std::string_view arg) {
  TypeParse result;  // kSyntax until proven otherwise
  const std::string a = AsciiUpper(arg);
  if (a.empty()) return result;
  const char code = a[0];
  std::string_view param;  // what follows "<code> "
  bool has_param = false;
  if (a.size() > 1) {
    if (a[1] != ' ' || a.size() == 2) return result;  // "AN", "A "
    param = std::string_view(a).substr(2);
    has_param = true;
  }
  switch (code) {
    case 'A':
    case 'E': {
      // Optional format control: N (non-print), T (telnet), C (carriage control).
      if (has_param && param != "N" && param != "T" && param != "C") return result;
      const bool supported = code == 'A' && (!has_param || param == "N");
      result.outcome = supported ? TypeParse::kOk : TypeParse::kUnsupported;
      result.type = TransferType::kAscii;
      return result;
    }
    case 'I':
      if (has_param) return result;
      result.outcome = TypeParse::kOk;
      result.type = TransferType::kImage;
      return result;
    case 'L': {
      if (!has_param) return result;
      std::optional<std::uint64_t> size = ParseDecimal(param, UINT64_MAX);
      if (!size) return result;
      result.outcome = *size == 8 ? TypeParse::kOk : TypeParse::kUnsupported;
      result.type = TransferType::kImage;
      return result;
    }
    default:
      return result;
  }
}

bool IsModeStream(std::string_view arg) { return EqualsIgnoreCase(arg, "S"); }

bool IsStruFile(std::string_view arg) { return EqualsIgnoreCase(arg, "F"); }

Result<std::uint64_t> ParseRestOffset(std::string_view arg) {
  std::optional<std::uint64_t> v = ParseDecimal(arg, INT64_MAX);
  if (!v) {
    return Status::Error("REST needs a decimal offset 0.." + std::to_string(INT64_MAX) + ": \"" +
                         SanitizeForLog(arg) + "\"");
  }
  return *v;
}

SiteArgument ParseSiteArgument(std::string_view arg) {
  arg = TrimSpaces(arg);
  std::size_t sp = arg.find(' ');
  SiteArgument out;
  out.sub = AsciiUpper(arg.substr(0, sp));
  out.rest = sp == std::string_view::npos ? std::string_view() : TrimSpaces(arg.substr(sp + 1));
  return out;
}

bool ParseOctalMode(std::string_view text, unsigned max, unsigned* out) {
  if (text.empty() || text.size() > 4) return false;
  unsigned v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '7') return false;
    v = v * 8 + static_cast<unsigned>(ch - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

ChmodArgument ParseChmodArgument(std::string_view rest) {
  ChmodArgument out;
  std::size_t sp = rest.find(' ');
  if (sp == std::string_view::npos) {
    out.outcome = ChmodArgument::kMissingPath;
    return out;
  }
  if (!ParseOctalMode(rest.substr(0, sp), 07777, &out.mode)) return out;
  out.path = TrimSpaces(rest.substr(sp + 1));
  out.outcome = out.path.empty() ? ChmodArgument::kMissingPath : ChmodArgument::kOk;
  return out;
}

void AsciiEncoder::Convert(std::string_view in, std::string* out) {
  const std::size_t size = out->size();
  out->resize(size + 2 * in.size());
  char* end = Convert(in, out->data() + size);
  out->resize(static_cast<std::size_t>(end - out->data()));
}

char* AsciiEncoder::Convert(std::string_view in, char* out) {
  // Whole runs up to each LF at once (memchr, then one copy), not byte by byte: an ASCII
  // download runs at several times the speed.
  const char* s = in.data();
  const char* const end = s + in.size();
  while (s != end) {
    const auto* lf =
        static_cast<const char*>(std::memchr(s, '\n', static_cast<std::size_t>(end - s)));
    const char* run_end = lf == nullptr ? end : lf;
    std::memcpy(out, s, static_cast<std::size_t>(run_end - s));
    out += run_end - s;
    if (lf == nullptr) break;
    const bool after_cr = lf > in.data() ? lf[-1] == '\r' : last_was_cr_;
    if (!after_cr) *out++ = '\r';
    *out++ = '\n';
    s = lf + 1;
  }
  if (!in.empty()) last_was_cr_ = in.back() == '\r';
  return out;
}

void AsciiDecoder::Convert(std::string_view in, std::string* out) {
  out->reserve(out->size() + in.size() + 1);
  for (char c : in) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (c != '\n') out->push_back('\r');
    }
    if (c == '\r') {
      pending_cr_ = true;
    } else {
      out->push_back(c);
    }
  }
}

void AsciiDecoder::Finish(std::string* out) {
  if (pending_cr_) out->push_back('\r');
  pending_cr_ = false;
}

Result<std::int64_t> ParseMdtmTime(std::string_view text) {
  std::size_t dot = text.find('.');
  if (dot != std::string_view::npos) {
    std::string_view frac = text.substr(dot + 1);
    if (frac.empty() || frac.size() > 9 ||
        frac.find_first_not_of("0123456789") != std::string_view::npos) {
      return Status::Error("bad fraction of a second");
    }
    text = text.substr(0, dot);
  }
  if (text.size() != 14 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::Error("expected YYYYMMDDHHMMSS");
  }
  auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  struct tm tm = {};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(8, 2);
  tm.tm_min = num(10, 2);
  tm.tm_sec = num(12, 2);
  const int mon = tm.tm_mon, mday = tm.tm_mday;
  if (mon < 0 || mon > 11 || mday < 1 || mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return Status::Error("not a valid time");
  }
  time_t t = timegm(&tm);
  if (tm.tm_mon != mon || tm.tm_mday != mday) return Status::Error("not a valid date");
  return static_cast<std::int64_t>(t);
}

std::string FormatMdtmTime(std::int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm = {};
  // Outside what gmtime_r or four year digits can show: the epoch rather than a malformed time.
  if (gmtime_r(&t, &tm) == nullptr || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
    return "19700101000000";
  }
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace keepftpd
