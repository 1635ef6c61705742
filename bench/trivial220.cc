// The physical floor for session setup: a per-connection "server" started exactly like
// keepftpd (systemd-socket-activate --inetd, the connection on fd 0/1) that writes a 220
// line and exits.
#include <unistd.h>

int main() {
  static const char kBanner[] = "220 ready\r\n";
  ssize_t n = write(1, kBanner, sizeof kBanner - 1);
  return n == static_cast<ssize_t>(sizeof kBanner - 1) ? 0 : 1;
}
