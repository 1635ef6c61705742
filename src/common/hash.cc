// The HASH command's algorithms and their names (FEAT, OPTS HASH, the 213 reply). Shared: the
// jails parse and print them (the session jail's hash_file.cc computes the digests).
#include "hash.h"

#include "strutil.h"

namespace keepftpd {

namespace {

constexpr HashAlgorithm kAll[] = {HashAlgorithm::kSha256, HashAlgorithm::kSha512,
                                  HashAlgorithm::kSha1, HashAlgorithm::kMd5,
                                  HashAlgorithm::kCrc32};

}  // namespace

std::string_view HashName(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha256: return "SHA-256";
    case HashAlgorithm::kSha512: return "SHA-512";
    case HashAlgorithm::kSha1: return "SHA-1";
    case HashAlgorithm::kMd5: return "MD5";
    case HashAlgorithm::kCrc32: return "CRC32";
  }
  return "";
}

bool ParseHashName(std::string_view name, HashAlgorithm* out) {
  for (HashAlgorithm a : kAll) {
    if (EqualsIgnoreCase(name, HashName(a))) {
      *out = a;
      return true;
    }
  }
  return false;
}

std::string HashFeatString(HashAlgorithm selected) {
  std::string out;
  for (HashAlgorithm a : kAll) {
    if (!out.empty()) out += ';';
    out += HashName(a);
    if (a == selected) out += '*';
  }
  return out;
}

}  // namespace keepftpd
