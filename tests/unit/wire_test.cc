// Tests for src/common/wire.cc: every field type round-trips, and every way a body can be short, too long
// or have bytes left over is detected.
#include "wire.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

namespace keepftpd {
namespace {

TEST_CASE("Every field type round-trips") {
  WireWriter w;
  w.PutU8(0);
  w.PutU8(0xff);
  w.PutU16(0);
  w.PutU16(0xbeef);
  w.PutU16(0xffff);
  w.PutU32(0);
  w.PutU32(0xdeadbeef);
  w.PutU32(0xffffffff);
  w.PutBytes(std::string_view("\x01\x00\x02", 3));
  w.PutString("");
  w.PutString("hello");
  w.PutString(std::string_view("nul\0inside", 10));

  WireReader r(w.data());
  std::uint8_t u8 = 1;
  std::uint16_t u16 = 1;
  std::uint32_t u32 = 1;
  std::string_view bytes;
  std::string s = "junk";
  CHECK(r.GetU8(&u8));
  CHECK(u8 == 0);
  CHECK(r.GetU8(&u8));
  CHECK(u8 == 0xff);
  CHECK(r.GetU16(&u16));
  CHECK(u16 == 0);
  CHECK(r.GetU16(&u16));
  CHECK(u16 == 0xbeef);
  CHECK(r.GetU16(&u16));
  CHECK(u16 == 0xffff);
  CHECK(r.GetU32(&u32));
  CHECK(u32 == 0);
  CHECK(r.GetU32(&u32));
  CHECK(u32 == 0xdeadbeef);
  CHECK(r.GetU32(&u32));
  CHECK(u32 == 0xffffffff);
  CHECK(r.GetBytes(3, &bytes));
  CHECK(bytes == std::string_view("\x01\x00\x02", 3));
  CHECK(r.GetString(0, &s));
  CHECK(s.empty());
  CHECK(r.GetString(5, &s));
  CHECK(s == "hello");
  CHECK(r.GetString(100, &s));
  CHECK(s == std::string("nul\0inside", 10));
  CHECK(r.ok());
  CHECK(r.Finish());
}

TEST_CASE("Integers are little endian with fixed widths") {
  WireWriter w;
  w.PutU16(0x0102);
  w.PutU32(0x03040506);
  CHECK(w.data() == std::string("\x02\x01\x06\x05\x04\x03", 6));

  WireWriter s;
  s.PutString("ab");
  CHECK(s.data() == std::string("\x02\x00" "ab", 4));
}

TEST_CASE("A string of 64 KiB minus one byte round-trips") {
  const std::string big(0xffff, 'x');
  WireWriter w;
  w.PutString(big);
  CHECK(w.data().size() == 2 + big.size());
  WireReader r(w.data());
  std::string out;
  CHECK(r.GetString(big.size(), &out));
  CHECK(out == big);
  CHECK(r.Finish());
}

TEST_CASE("Truncated input fails every field type") {
  std::uint8_t u8;
  std::uint16_t u16;
  std::uint32_t u32;
  std::string_view bytes;
  std::string s;

  CHECK_FALSE(WireReader("").GetU8(&u8));
  CHECK_FALSE(WireReader("x").GetU16(&u16));
  CHECK_FALSE(WireReader("xyz").GetU32(&u32));
  CHECK_FALSE(WireReader("xy").GetBytes(3, &bytes));
  CHECK_FALSE(WireReader("").GetString(10, &s));           // no length
  CHECK_FALSE(WireReader("\x05").GetString(10, &s));       // half a length
  CHECK_FALSE(WireReader(std::string_view("\x05\x00" "abcd", 6)).GetString(10, &s));  // short

  // Every prefix of a valid body fails somewhere, and never finishes.
  WireWriter w;
  w.PutU8(4);
  w.PutU16(300);
  w.PutU32(70000);
  w.PutString("user");
  w.PutBytes(std::string_view("\x7f\x00\x00\x01", 4));
  const std::string& full = w.data();
  for (std::size_t len = 0; len < full.size(); ++len) {
    CAPTURE(len);
    WireReader r(std::string_view(full).substr(0, len));
    r.GetU8(&u8);
    r.GetU16(&u16);
    r.GetU32(&u32);
    r.GetString(16, &s);
    r.GetBytes(4, &bytes);
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.Finish());
  }
  WireReader r(full);
  CHECK(r.GetU8(&u8));
  CHECK(r.GetU16(&u16));
  CHECK(r.GetU32(&u32));
  CHECK(r.GetString(16, &s));
  CHECK(r.GetBytes(4, &bytes));
  CHECK(r.Finish());
  CHECK(u8 == 4);
  CHECK(u16 == 300);
  CHECK(u32 == 70000);
  CHECK(s == "user");
}

TEST_CASE("A string longer than its maximum fails") {
  WireWriter w;
  w.PutString("abcdef");
  {
    WireReader r(w.data());
    std::string s;
    CHECK_FALSE(r.GetString(5, &s));
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.Finish());
  }
  {
    WireReader r(w.data());
    std::string s;
    CHECK(r.GetString(6, &s));  // exactly the maximum is fine
    CHECK(s == "abcdef");
    CHECK(r.Finish());
  }
  {
    WireReader r(w.data());
    std::string s;
    CHECK_FALSE(r.GetString(0, &s));
  }
}

TEST_CASE("After a failure every later get fails") {
  WireWriter w;
  w.PutString("toolong");
  w.PutU8(1);
  w.PutU16(2);
  WireReader r(w.data());
  std::string s;
  std::uint8_t u8 = 0;
  std::uint16_t u16 = 0;
  std::uint32_t u32 = 0;
  std::string_view bytes;
  CHECK_FALSE(r.GetString(3, &s));
  // Enough bytes remain for these, but the reader is already failed.
  CHECK_FALSE(r.GetU8(&u8));
  CHECK_FALSE(r.GetU16(&u16));
  CHECK_FALSE(r.GetU32(&u32));
  CHECK_FALSE(r.GetBytes(0, &bytes));
  CHECK_FALSE(r.GetString(100, &s));
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.Finish());

  WireReader r2("a");
  CHECK_FALSE(r2.GetU16(&u16));
  CHECK_FALSE(r2.GetU8(&u8));  // the byte is there, but the reader has failed
}

TEST_CASE("Finish detects trailing bytes") {
  WireWriter w;
  w.PutU16(7);
  w.PutU8(0);
  WireReader r(w.data());
  std::uint16_t u16;
  CHECK(r.GetU16(&u16));
  CHECK(r.ok());
  CHECK_FALSE(r.Finish());  // one byte unread
  std::uint8_t u8;
  CHECK(r.GetU8(&u8));
  CHECK(r.Finish());

  CHECK(WireReader("").Finish());
  CHECK_FALSE(WireReader("x").Finish());
  WireReader empty("");
  std::string_view bytes;
  CHECK(empty.GetBytes(0, &bytes));
  CHECK(bytes.empty());
  CHECK(empty.Finish());
}

}  // namespace
}  // namespace keepftpd
