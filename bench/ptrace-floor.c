// ptrace-floor: the least a syscall tracer attached to a running process can
// do per stop, as the floor that bench/overhead compares `liveprobe attach`
// with. It seizes every thread (PTRACE_O_TRACECLONE for new ones), stops on
// every syscall entry and exit, asks PTRACE_GET_SYSCALL_INFO which syscall it
// is (any tracer that reports syscalls must learn that), and resumes;
// signals are passed on. No decoding, no output, no allocation per stop.
//
//   ptrace-floor <pid>    exits when every traced thread has exited

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

static int seize_all(pid_t pid) {
  char path[64];
  int seized = 0, more = 1;
  // Threads started while we seize are seized through TRACECLONE once their
  // creator is traced; re-scan until a pass finds nobody new.
  while (more) {
    more = 0;
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return seized;
    for (struct dirent *e; (e = readdir(d));) {
      pid_t tid = atoi(e->d_name);
      if (tid <= 0) continue;
      if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD) == 0) {
        ptrace(PTRACE_INTERRUPT, tid, 0, 0);  // the first stop starts syscall tracing
        seized++;
        more = 1;
      }
    }
    closedir(d);
  }
  return seized;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: ptrace-floor <pid>\n");
    return 2;
  }
  pid_t pid = atoi(argv[1]);
  if (seize_all(pid) == 0) {
    fprintf(stderr, "ptrace-floor: cannot seize %d: %s\n", pid, strerror(errno));
    return 1;
  }
  for (;;) {
    int st;
    pid_t tid = waitpid(-1, &st, __WALL);
    if (tid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: every tracee is gone
    }
    if (!WIFSTOPPED(st)) continue;
    int sig = WSTOPSIG(st), inject = 0;
    if (sig == (SIGTRAP | 0x80)) {
      struct __ptrace_syscall_info info;
      ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info);
    } else if ((st >> 16) == 0) {
      inject = sig;  // a signal-delivery stop: deliver it
    }
    ptrace(PTRACE_SYSCALL, tid, 0, inject);
  }
  return 0;
}
