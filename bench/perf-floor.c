// perf-floor: the least a tracer built like liveprobe's perf engine can do,
// for bench/overhead.ts: open the given tracepoints for every thread of PID
// on every CPU with inherit (new threads covered by the kernel), one ring
// per CPU with the others joined to it, and drain the rings (read nothing,
// just hand the space back) until PID exits. No parsing, no pairing, no
// records, no snapshot. Prints "ready" once every event is open. Tracepoint
// ids come from the caller (the bench reads them from tracefs with
// lib/perf/events.ts); "ID:s" also samples 2048 bytes of user stack with sp
// and ip, as the engine does for clone3; "ID=FILTER" sets that tracepoint
// filter (the engine's raw_syscalls filters on the syscall number).
//
//   perf-floor PID PAGES ID[:s][=FILTER]...
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 256
#define MAX_TIDS 4096

static int ring_fd[MAX_CPUS];
static void *ring[MAX_CPUS];
static size_t data_bytes, map_bytes;
static int seen[MAX_TIDS], nseen;

static int known(int tid) {
  for (int i = 0; i < nseen; i++)
    if (seen[i] == tid) return 1;
  return 0;
}

static int open_thread(int tid, int ncpu, int nev, uint64_t *ids, int *stack, char **filter) {
  for (int cpu = 0; cpu < ncpu; cpu++) {
    for (int e = 0; e < nev; e++) {
      struct perf_event_attr a;
      memset(&a, 0, sizeof a);
      a.type = PERF_TYPE_TRACEPOINT;
      a.size = sizeof a;
      a.config = ids[e];
      a.sample_period = 1;
      a.sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
      a.inherit = 1;
      a.sample_id_all = 1;
      a.use_clockid = 1;
      a.clockid = CLOCK_MONOTONIC;
      a.watermark = 1;
      a.wakeup_watermark = (uint32_t)(data_bytes / 4);
      if (stack[e]) {
        a.sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
        a.sample_regs_user = (1ULL << 7) | (1ULL << 8);  // x86_64 sp, ip
        a.sample_stack_user = 2048;
      }
      int fd = (int)syscall(SYS_perf_event_open, &a, tid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
      if (fd < 0) {
        if (errno == ESRCH) return 0;
        if (errno == ENODEV && e == 0) break;
        perror("perf_event_open");
        return -1;
      }
      if (filter[e] && ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter[e]) != 0) {
        perror("PERF_EVENT_IOC_SET_FILTER");
        return -1;
      }
      if (ring_fd[cpu] < 0) {
        void *m = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
          perror("mmap");
          return -1;
        }
        ring[cpu] = m;
        ring_fd[cpu] = fd;
      } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, ring_fd[cpu]) != 0) {
        perror("PERF_EVENT_IOC_SET_OUTPUT");
        return -1;
      }
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: perf-floor PID PAGES ID[:s]...\n");
    return 2;
  }
  int pid = atoi(argv[1]);
  long pages = atol(argv[2]);
  int nev = argc - 3;
  uint64_t *ids = calloc((size_t)nev, sizeof *ids);
  int *stack = calloc((size_t)nev, sizeof *stack);
  char **filter = calloc((size_t)nev, sizeof *filter);
  for (int i = 0; i < nev; i++) {
    char *eq = strchr(argv[3 + i], '=');
    if (eq) {
      *eq = 0;
      filter[i] = eq + 1;
    }
    ids[i] = strtoull(argv[3 + i], NULL, 10);
    stack[i] = strchr(argv[3 + i], ':') != NULL;
  }
  long page = sysconf(_SC_PAGESIZE);
  data_bytes = (size_t)(pages * page);
  map_bytes = data_bytes + (size_t)page;
  int ncpu = (int)sysconf(_SC_NPROCESSORS_CONF);
  if (ncpu > MAX_CPUS) ncpu = MAX_CPUS;
  for (int i = 0; i < MAX_CPUS; i++) ring_fd[i] = -1;
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/task", pid);
  for (int found = 1; found;) {
    found = 0;
    DIR *d = opendir(dir);
    if (!d) return 1;
    struct dirent *ent;
    while ((ent = readdir(d))) {
      int tid = atoi(ent->d_name);
      if (tid <= 0 || known(tid) || nseen == MAX_TIDS) continue;
      seen[nseen++] = tid;
      if (open_thread(tid, ncpu, nev, ids, stack, filter) != 0) return 1;
      found = 1;
    }
    closedir(d);
  }
  // The bench opens the workload's gate on this line.
  printf("ready\n");
  fflush(stdout);
  struct pollfd pfd[MAX_CPUS];
  int n = 0;
  for (int cpu = 0; cpu < ncpu; cpu++)
    if (ring_fd[cpu] >= 0) pfd[n++] = (struct pollfd){.fd = ring_fd[cpu], .events = POLLIN};
  for (;;) {
    poll(pfd, (nfds_t)n, 10);
    for (int cpu = 0; cpu < ncpu; cpu++) {
      if (!ring[cpu]) continue;
      struct perf_event_mmap_page *meta = ring[cpu];
      uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
      __atomic_store_n(&meta->data_tail, head, __ATOMIC_RELEASE);
    }
    if (kill(pid, 0) != 0 && errno == ESRCH) return 0;
    // A zombie is done too (its parent may be slow to reap it).
    char stat[64], buf[512];
    snprintf(stat, sizeof stat, "/proc/%d/stat", pid);
    FILE *f = fopen(stat, "r");
    if (!f) return 0;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *p = strrchr(buf, ')');
    if (p && p[2] == 'Z') return 0;
  }
}
