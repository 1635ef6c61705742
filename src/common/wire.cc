// Bounded message-body encoding (little endian, fixed widths). Shared by the monitor and jails.
#include "wire.h"

namespace keepftpd {

void WireWriter::PutU8(std::uint8_t v) { data_.push_back(static_cast<char>(v)); }

void WireWriter::PutU16(std::uint16_t v) {
  PutU8(static_cast<std::uint8_t>(v & 0xff));
  PutU8(static_cast<std::uint8_t>(v >> 8));
}

void WireWriter::PutU32(std::uint32_t v) {
  PutU16(static_cast<std::uint16_t>(v & 0xffff));
  PutU16(static_cast<std::uint16_t>(v >> 16));
}

void WireWriter::PutU64(std::uint64_t v) {
  PutU32(static_cast<std::uint32_t>(v & 0xffffffffu));
  PutU32(static_cast<std::uint32_t>(v >> 32));
}

void WireWriter::PutBytes(std::string_view bytes) { data_.append(bytes); }

void WireWriter::PutString(std::string_view s) {
  s = s.substr(0, 0xffff);  // callers keep strings far shorter; never let length and data disagree
  PutU16(static_cast<std::uint16_t>(s.size()));
  PutBytes(s);
}

bool WireReader::Take(std::size_t n, const char** p) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  *p = data_.data() + pos_;
  pos_ += n;
  return true;
}

bool WireReader::GetU8(std::uint8_t* v) {
  const char* p;
  if (!Take(1, &p)) return false;
  *v = static_cast<std::uint8_t>(p[0]);
  return true;
}

bool WireReader::GetU16(std::uint16_t* v) {
  const char* p;
  if (!Take(2, &p)) return false;
  *v = static_cast<std::uint16_t>(static_cast<std::uint8_t>(p[0]) |
                                  (static_cast<std::uint8_t>(p[1]) << 8));
  return true;
}

bool WireReader::GetU32(std::uint32_t* v) {
  std::uint16_t lo, hi;
  if (!GetU16(&lo) || !GetU16(&hi)) return false;
  *v = static_cast<std::uint32_t>(lo) | (static_cast<std::uint32_t>(hi) << 16);
  return true;
}

bool WireReader::GetU64(std::uint64_t* v) {
  std::uint32_t lo, hi;
  if (!GetU32(&lo) || !GetU32(&hi)) return false;
  *v = static_cast<std::uint64_t>(lo) | (static_cast<std::uint64_t>(hi) << 32);
  return true;
}

bool WireReader::GetBytes(std::size_t n, std::string_view* out) {
  const char* p;
  if (!Take(n, &p)) return false;
  *out = std::string_view(p, n);
  return true;
}

bool WireReader::GetString(std::size_t max_len, std::string* out) {
  std::uint16_t len;
  if (!GetU16(&len)) return false;
  if (len > max_len) {
    ok_ = false;
    return false;
  }
  std::string_view bytes;
  if (!GetBytes(len, &bytes)) return false;
  out->assign(bytes);
  return true;
}

}  // namespace keepftpd
