// For the benchmark's two-process ceilings (sendfile_pair, receive_pair): a listening TCP socket
// on 127.0.0.1 (a free port, written to *sa for the connecting side), a child that accepts on it,
// and leaving on error.
#ifndef KEEPFTPD_BENCH_LOOPBACK_PAIR_H_
#define KEEPFTPD_BENCH_LOOPBACK_PAIR_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

[[noreturn]] inline void Die(const char* what) {
  std::perror(what);
  std::exit(1);
}

inline int ListenOnLoopback(sockaddr_in* sa) {
  int lis = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *sa = sockaddr_in{};
  sa->sin_family = AF_INET;
  sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof *sa;
  if (lis < 0 || bind(lis, reinterpret_cast<sockaddr*>(sa), sizeof *sa) != 0) Die("bind");
  if (listen(lis, 1) != 0) Die("listen");
  if (getsockname(lis, reinterpret_cast<sockaddr*>(sa), &len) != 0) Die("getsockname");
  return lis;
}

// Forks: the child returns 0 with *accepted the connection the parent will make to *sa; the
// parent returns the child's pid.
inline pid_t ForkLoopbackPair(sockaddr_in* sa, int* accepted) {
  int lis = ListenOnLoopback(sa);
  pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0 && (*accepted = accept(lis, nullptr, nullptr)) < 0) Die("accept");
  close(lis);
  return pid;
}

#endif  // KEEPFTPD_BENCH_LOOPBACK_PAIR_H_
