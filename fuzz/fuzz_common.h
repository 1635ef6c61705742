// Helpers shared by the libFuzzer targets: a check that aborts with a message (so libFuzzer
// records the input as a crash), and byte-class tests. Fuzz targets only.
#ifndef KEEPFTPD_FUZZ_FUZZ_COMMON_H_
#define KEEPFTPD_FUZZ_FUZZ_COMMON_H_

#include <cstdio>
#include <cstdlib>
#include <string_view>

// Aborts when cond is false; the message names the broken invariant.
#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);   \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace keepftpd_fuzz {

inline bool Contains(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}

inline bool HasCrOrLf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

inline bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace keepftpd_fuzz

#endif  // KEEPFTPD_FUZZ_FUZZ_COMMON_H_
