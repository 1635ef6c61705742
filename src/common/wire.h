// Bounded encoding and decoding of message bodies: a Writer that appends fixed-width integers and
// length-prefixed strings, and a Reader where every get can fail and Finish() fails on trailing
// bytes. Shared by the monitor and the jails.
#ifndef KEEPFTPD_SRC_COMMON_WIRE_H_
#define KEEPFTPD_SRC_COMMON_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace keepftpd {

class WireWriter {
 public:
  void PutU8(std::uint8_t v);
  void PutU16(std::uint16_t v);
  void PutU32(std::uint32_t v);
  void PutU64(std::uint64_t v);
  void PutBytes(std::string_view bytes);    // raw, no length
  void PutString(std::string_view s);       // u16 length, then bytes (callers keep s < 64 KiB)
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

// Reads from a borrowed buffer. After the first failure every later get fails too, so a handler
// may check ok() once at the end, before Finish().
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool GetU8(std::uint8_t* v);
  bool GetU16(std::uint16_t* v);
  bool GetU32(std::uint32_t* v);
  bool GetU64(std::uint64_t* v);
  bool GetBytes(std::size_t n, std::string_view* out);
  // A u16-length-prefixed string of at most max_len bytes; fails when longer.
  bool GetString(std::size_t max_len, std::string* out);
  bool ok() const { return ok_; }
  // True only if every get succeeded and no byte is left over.
  bool Finish() const { return ok_ && pos_ == data_.size(); }

 private:
  bool Take(std::size_t n, const char** p);
  std::string_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_WIRE_H_
