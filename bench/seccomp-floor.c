// seccomp-floor: the least a tracer that launches its target with a seccomp
// filter can do, as the floor that bench/overhead compares `liveprobe run`
// with. The child installs a filter that returns SECCOMP_RET_TRACE for the
// given syscall numbers (one compare each, as liveprobe's filter) and execs
// the program; the tracer follows every thread (TRACECLONE), resumes each
// seccomp stop with PTRACE_SYSCALL to see the exit (as any tracer that
// reports return values must), asks PTRACE_GET_SYSCALL_INFO at both, and
// passes signals on. No decoding, no output, no allocation per stop.
// Each -q nr:arg:value lets that call through untraced when the argument's
// low word equals value, as liveprobe's quiet rules do (Go's preemption
// tgkill(..., SIGURG)).
//
//   seccomp-floor [-q nr:arg:value]... <nr,nr,...> <program> [args...]
//   exits with the program's status

#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#define HOST_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define HOST_ARCH AUDIT_ARCH_AARCH64
#endif

#define MAX_NRS 200 /* jumps are 8-bit: at most 255 compares */
#define MAX_QUIET 4

int main(int argc, char **argv) {
  unsigned quiet[MAX_QUIET][3];
  int nq = 0;
  while (argc > 2 && strcmp(argv[1], "-q") == 0) {
    if (nq == MAX_QUIET || sscanf(argv[2], "%u:%u:%u", &quiet[nq][0], &quiet[nq][1], &quiet[nq][2]) != 3 || quiet[nq][1] > 5) {
      fprintf(stderr, "seccomp-floor: -q takes nr:arg:value, at most %d times\n", MAX_QUIET);
      return 2;
    }
    nq++;
    argc -= 2;
    argv += 2;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: seccomp-floor [-q nr:arg:value]... <nr,nr,...> <program> [args...]\n");
    return 2;
  }
  int nrs[MAX_NRS], n = 0;
  for (char *s = argv[1], *t; (t = strsep(&s, ","));) {
    if (!*t) continue;
    if (n == MAX_NRS) {
      fprintf(stderr, "seccomp-floor: at most %d syscall numbers\n", MAX_NRS);
      return 2;
    }
    nrs[n++] = atoi(t);
  }

  struct sock_filter prog[MAX_NRS + 5 * MAX_QUIET + 8];
  int k = 0;
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, HOST_ARCH, 1, 0);
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (int q = 0; q < nq; q++) {
    prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, quiet[q][0], 0, 4);
    prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args) + 8 * quiet[q][1]);
    prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, quiet[q][2], 0, 1);
    prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  }
  for (int i = 0; i < n; i++) prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs[i], n - i, 0);
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
  struct sock_fprog fprog = {(unsigned short)k, prog};

  pid_t child = fork();
  if (child == 0) {
    // Stop until the tracer has set its options, then filter and exec.
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog)) _exit(127);
    execvp(argv[2], argv + 2);
    _exit(127);
  }
  int st;
  if (waitpid(child, &st, 0) != child || !WIFSTOPPED(st)) return 1;
  ptrace(PTRACE_SETOPTIONS, child, 0,
         PTRACE_O_TRACESECCOMP | PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
  ptrace(PTRACE_CONT, child, 0, 0);

  int status = 0;
  for (;;) {
    pid_t tid = waitpid(-1, &st, __WALL);
    if (tid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: every tracee is gone
    }
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      if (tid == child) status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      continue;
    }
    if (!WIFSTOPPED(st)) continue;
    int sig = WSTOPSIG(st), event = st >> 16;
    struct __ptrace_syscall_info info;
    if (event == PTRACE_EVENT_SECCOMP) {
      ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info);
      ptrace(PTRACE_SYSCALL, tid, 0, 0);  // on to the exit stop
    } else if (sig == (SIGTRAP | 0x80)) {
      ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info);
      ptrace(PTRACE_CONT, tid, 0, 0);
    } else if (event != 0) {
      ptrace(PTRACE_CONT, tid, 0, 0);  // clone/exec events, a new thread's first stop
    } else {
      // A new thread's first stop is a SIGSTOP of ptrace's own: swallow it
      // (the workload never stops itself); deliver every other signal.
      ptrace(PTRACE_CONT, tid, 0, sig == SIGSTOP ? 0 : sig);
    }
  }
  return status;
}
