// Tests for src/common/hash.cc and src/jail/hash_file.cc: the HASH algorithms' names as FEAT
// and OPTS HASH use them, and HashFile's digests with Nettle and zlib (checked against values
// computed with OpenSSL, Python's hashlib and zlib.crc32), read without moving the descriptor's
// offset.
#include "hash.h"

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "hash_file.h"
#include "test_support.h"
#include "unique_fd.h"

namespace keepftpd {
namespace {

using test::ReadAll;
using test::TempFile;

constexpr HashAlgorithm kAll[] = {HashAlgorithm::kSha256, HashAlgorithm::kSha512,
                                  HashAlgorithm::kSha1, HashAlgorithm::kMd5,
                                  HashAlgorithm::kCrc32};

// 1 MiB: byte i is (i * 7 + 3) % 251, so no 64 KiB read repeats another.
std::string Pattern() {
  std::string out(1 << 20, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>((i * 7 + 3) % 251);
  return out;
}

// The digest of fd, or the failure's message prefixed with "error: ".
std::string Digest(int fd, HashAlgorithm algorithm, std::uint64_t* size) {
  Result<std::string> r = HashFile(fd, algorithm, size);
  return r.ok() ? r.value() : "error: " + r.status().message();
}

struct Known {
  HashAlgorithm algorithm;
  std::string_view empty;    // of ""
  std::string_view abc;      // of "abc"
  std::string_view pattern;  // of Pattern()
};

// From `openssl dgst -sha256` (etc.), hashlib and zlib.crc32 ("%08x").
constexpr Known kKnown[] = {
    {HashAlgorithm::kSha256,
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
     "1ac437f476c488acba4000af7ae89ef53f7ffbeef2e937850985f5ceb8b5ae6f"},
    {HashAlgorithm::kSha512,
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
     "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "7d938ccdee9a2740fa630bc9dd73b64247a743f296372b11cb0cb0766f62d792"
     "0e0d1eebe29fd17728a962401ad64fbcc979f66e9ed79ba5ad9db462af2caf54"},
    {HashAlgorithm::kSha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709",
     "a9993e364706816aba3e25717850c26c9cd0d89d", "f2fb7740d69f400a46b616bceb941a553187448f"},
    {HashAlgorithm::kMd5, "d41d8cd98f00b204e9800998ecf8427e", "900150983cd24fb0d6963f7d28e17f72",
     "bac259e6f14c8b831c02f85042e13805"},
    {HashAlgorithm::kCrc32, "00000000", "352441c2", "2f7cf01f"},
};

// ---- names ----

TEST_CASE("each algorithm has the name FEAT and the 213 reply use") {
  CHECK(HashName(HashAlgorithm::kSha256) == "SHA-256");
  CHECK(HashName(HashAlgorithm::kSha512) == "SHA-512");
  CHECK(HashName(HashAlgorithm::kSha1) == "SHA-1");
  CHECK(HashName(HashAlgorithm::kMd5) == "MD5");
  CHECK(HashName(HashAlgorithm::kCrc32) == "CRC32");
}

TEST_CASE("ParseHashName takes every name in any case and gives the algorithm back") {
  for (HashAlgorithm a : kAll) {
    const std::string name(HashName(a));
    CAPTURE(name);
    std::string lower;
    for (char c : name) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    for (const std::string& spelling : {name, lower}) {
      HashAlgorithm out = a == HashAlgorithm::kMd5 ? HashAlgorithm::kSha1 : HashAlgorithm::kMd5;
      CHECK(ParseHashName(spelling, &out));
      CHECK(out == a);
    }
  }
  HashAlgorithm out = HashAlgorithm::kSha256;
  CHECK(ParseHashName("Sha-512", &out));
  CHECK(out == HashAlgorithm::kSha512);
  CHECK(ParseHashName("crc32", &out));
  CHECK(out == HashAlgorithm::kCrc32);
}

TEST_CASE("ParseHashName refuses unknown and near-miss names and leaves the output alone") {
  for (std::string_view name : {"", "SHA256", "SHA-2", "SHA-384", "SHA-256 ", " MD5", "MD5;",
                                "CRC-32", "CRC32C", "SHA-1*", "SHA-256;SHA-1"}) {
    CAPTURE(name);
    HashAlgorithm out = HashAlgorithm::kMd5;
    CHECK_FALSE(ParseHashName(name, &out));
    CHECK(out == HashAlgorithm::kMd5);
  }
}

TEST_CASE("HashFeatString lists every algorithm in order with '*' on the selected one") {
  CHECK(HashFeatString(HashAlgorithm::kSha256) == "SHA-256*;SHA-512;SHA-1;MD5;CRC32");
  CHECK(HashFeatString(HashAlgorithm::kSha512) == "SHA-256;SHA-512*;SHA-1;MD5;CRC32");
  CHECK(HashFeatString(HashAlgorithm::kSha1) == "SHA-256;SHA-512;SHA-1*;MD5;CRC32");
  CHECK(HashFeatString(HashAlgorithm::kMd5) == "SHA-256;SHA-512;SHA-1;MD5*;CRC32");
  CHECK(HashFeatString(HashAlgorithm::kCrc32) == "SHA-256;SHA-512;SHA-1;MD5;CRC32*");
}

// ---- HashFile ----

TEST_CASE("HashFile gives the known lower-case hex digest and size of each file") {
  TempFile empty("");
  TempFile abc("abc");
  const std::string pattern = Pattern();
  TempFile big(pattern);
  for (const Known& k : kKnown) {
    CAPTURE(HashName(k.algorithm));
    std::uint64_t size = 99;
    CHECK(Digest(empty.fd(), k.algorithm, &size) == k.empty);
    CHECK(size == 0);
    CHECK(Digest(abc.fd(), k.algorithm, &size) == k.abc);
    CHECK(size == 3);
    CHECK(Digest(big.fd(), k.algorithm, &size) == k.pattern);
    CHECK(size == pattern.size());
  }
}

TEST_CASE("HashFile reads the whole file without moving the descriptor's offset") {
  TempFile abc("abc");
  // The offset is at the end after writing; put it in the middle too.
  for (off_t offset : {off_t{3}, off_t{1}, off_t{0}}) {
    CAPTURE(offset);
    CHECK(lseek(abc.fd(), offset, SEEK_SET) == offset);
    for (const Known& k : kKnown) {
      CAPTURE(HashName(k.algorithm));
      std::uint64_t size = 0;
      CHECK(Digest(abc.fd(), k.algorithm, &size) == k.abc);
      CHECK(size == 3);
      CHECK(lseek(abc.fd(), 0, SEEK_CUR) == offset);
    }
  }
}

TEST_CASE("HashFile fails with the errno on a directory or a descriptor it cannot read") {
  UniqueFd dir(open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  CHECK(dir.valid());
  TempFile abc("abc");
  UniqueFd write_only(open(abc.path().c_str(), O_WRONLY | O_CLOEXEC));
  CHECK(write_only.valid());
  for (HashAlgorithm a : kAll) {
    CAPTURE(HashName(a));
    std::uint64_t size = 0;
    Result<std::string> r = HashFile(dir.get(), a, &size);
    CHECK_FALSE(r.ok());
    CHECK(r.status().errno_value() == EISDIR);
    r = HashFile(write_only.get(), a, &size);
    CHECK_FALSE(r.ok());
    CHECK(r.status().errno_value() == EBADF);
    r = HashFile(-1, a, &size);
    CHECK_FALSE(r.ok());
    CHECK(r.status().errno_value() == EBADF);
  }
}

}  // namespace
}  // namespace keepftpd
