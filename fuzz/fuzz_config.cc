// Fuzz target: the text of a vsftpd.conf-style configuration file through ParseConfig. Every
// error names the file, and every error's line number lies inside the text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > keepftpd::kMaxConfigBytes) return 0;  // LoadConfigFile refuses larger files
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';
  if (!text.empty() && text.back() != '\n') ++lines;

  std::vector<keepftpd::ConfigError> errors;
  const keepftpd::Config config = keepftpd::ParseConfig(text, "fuzz.conf", &errors);
  (void)config;
  for (const keepftpd::ConfigError& e : errors) {
    FUZZ_CHECK(e.file == "fuzz.conf");
    FUZZ_CHECK(keepftpd_fuzz::Contains(e.ToString(), "fuzz.conf"));
    FUZZ_CHECK(e.line <= lines);
    FUZZ_CHECK(!e.message.empty());
  }
  return 0;
}
