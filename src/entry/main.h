// keepftpd's entry point (main.cc) as a function, so that a unit test can run it in a forked
// child. Entry process only.
#ifndef KEEPFTPD_SRC_ENTRY_MAIN_H_
#define KEEPFTPD_SRC_ENTRY_MAIN_H_

namespace keepftpd {

// Parses the command line; --help, --version, --check-config, --features --json and
// --from-vsftpd print and return the exit status; otherwise serves the connection on fd 0 (and
// never returns), or returns 2 when fd 0 is not a connected TCP socket.
int Main(int argc, char** argv);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_ENTRY_MAIN_H_
