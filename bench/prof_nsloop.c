// Profiling only (bench/profile.sh): what a new namespace costs the process that makes it.
//   nsloop N
// For each set of clone flags keepftpd may use for its pre-login jail, N times: clone a child
// into the namespaces, the child _exits at once, the parent waits for it. Prints per flag set
// the median and 90th percentile of one clone+exit+wait (wall, microseconds) and the kernel CPU
// time per iteration of parent and children (getrusage). A network namespace is torn down
// later by a kernel worker (cleanup_net), which neither number includes; the whole loop's wall
// time per iteration (loop_us) shows it only where the worker competes for the CPU.
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double sys_us(void) {
  struct rusage s, c;
  getrusage(RUSAGE_SELF, &s);
  getrusage(RUSAGE_CHILDREN, &c);
  return (s.ru_stime.tv_sec + c.ru_stime.tv_sec) * 1e6 + s.ru_stime.tv_usec + c.ru_stime.tv_usec;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 500;
  struct { const char* name; unsigned long flags; } sets[] = {
      {"fork (no new namespace)", 0},
      {"CLONE_NEWIPC", CLONE_NEWIPC},
      {"CLONE_NEWPID", CLONE_NEWPID},
      {"CLONE_NEWNET", CLONE_NEWNET},
      {"CLONE_NEWPID|CLONE_NEWIPC", CLONE_NEWPID | CLONE_NEWIPC},
      {"CLONE_NEWNET|CLONE_NEWPID|CLONE_NEWIPC (keepftpd's pre-login jail)",
       CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC},
  };
  double* t = malloc(sizeof(double) * (size_t)n);
  for (size_t s = 0; s < sizeof sets / sizeof sets[0]; ++s) {
    double sys0 = sys_us(), loop0 = now_us();
    for (int i = 0; i < n; ++i) {
      double t0 = now_us();
      long pid = syscall(SYS_clone, sets[s].flags | SIGCHLD, NULL, NULL, NULL, 0);
      if (pid < 0) { perror("clone"); return 1; }
      if (pid == 0) _exit(0);
      while (waitpid((pid_t)pid, NULL, 0) < 0) {}
      t[i] = now_us() - t0;
    }
    double loop = (now_us() - loop0) / n, sys = (sys_us() - sys0) / n;
    qsort(t, (size_t)n, sizeof(double), cmp);
    printf("%s: median_us=%.1f p90_us=%.1f sys_us=%.1f loop_us=%.1f n=%d\n", sets[s].name,
           t[n / 2], t[n * 9 / 10], sys, loop, n);
    fflush(stdout);
  }
  return 0;
}
