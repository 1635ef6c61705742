// Process titles over the argument strings. No system calls: jails may use it.
#include "proctitle.h"

#include <cstring>
#include <string>

namespace keepftpd {

namespace {

char* g_area = nullptr;
std::size_t g_size = 0;
bool g_enabled = false;

}  // namespace

void InitProcTitle(int argc, char** argv) {
  if (argc <= 0 || argv == nullptr || argv[0] == nullptr) return;
  // The argument strings lie one after the other; use them as long as they are contiguous.
  char* end = argv[0] + std::strlen(argv[0]) + 1;
  for (int i = 1; i < argc && argv[i] == end; ++i) end = argv[i] + std::strlen(argv[i]) + 1;
  g_area = argv[0];
  g_size = static_cast<std::size_t>(end - argv[0]);
}

void EnableProcTitle(bool enabled) { g_enabled = enabled; }

void SetProcTitle(std::string_view title) {
  if (!g_enabled || g_area == nullptr || g_size < 2) return;
  std::string text = "keepftpd: " + std::string(title);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  std::size_t n = std::min(text.size(), g_size - 1);
  std::memcpy(g_area, text.data(), n);
  std::memset(g_area + n, 0, g_size - n);
}

}  // namespace keepftpd
