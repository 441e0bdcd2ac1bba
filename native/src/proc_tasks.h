// A process's tasks as /proc shows them, for both engines' attach
// (tracer.cc seizes them to trace, perf_engine.cc to take its snapshot).
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace liveprobe::proc {

// The whole of a /proc file; false if it cannot be opened (the task is gone).
inline bool readWhole(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

// Every task of pid, in tid order. Tids wrap at pid_max (32768 by default),
// so a thread started late can come before the leader.
inline std::vector<pid_t> listTasks(pid_t pid) {
  std::vector<pid_t> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    out.push_back(pid_t(std::strtol(e->d_name, nullptr, 10)));
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// The task's state letter and flags (fields 3 and 9 of its stat); false if
// it is gone from /proc. A task reaped between the open and the read leaves
// the file empty: gone too (an attach race took that for a live task and
// its EPERM for a refusal: test/reliability-exit.test.ts).
inline bool taskStat(pid_t tgid, pid_t tid, char& state, unsigned& flags) {
  std::string stat;
  if (!readWhole("/proc/" + std::to_string(tgid) + "/task/" + std::to_string(tid) + "/stat", stat)) return false;
  // The state follows the parenthesised comm, which may itself contain ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  flags = 0;
  return std::sscanf(stat.c_str() + close + 2, "%c %*d %*d %*d %*d %*d %u", &state, &flags) >= 1;
}

// The task has exited: gone from /proc, a zombie ('Z') or dead ('X'). The
// kernel refuses to seize such a task with EPERM (kernel/ptrace.c,
// ptrace_attach: exit_state), which is not a permission problem.
inline bool taskExited(pid_t tgid, pid_t tid) {
  char state;
  unsigned flags;
  if (!taskStat(tgid, tid, state, flags)) return true;
  return state == 'Z' || state == 'X';
}

// The task has exited or is exiting: PF_EXITING, set where do_exit begins,
// before its exit state. A seize's EPERM for such a task is no permission
// problem either (test/reliability-exit.test.ts, its attach races).
inline bool taskExiting(pid_t tgid, pid_t tid) {
  constexpr unsigned kPfExiting = 0x4;  // include/linux/sched.h
  char state;
  unsigned flags;
  if (!taskStat(tgid, tid, state, flags)) return true;
  return state == 'Z' || state == 'X' || (flags & kPfExiting) != 0;
}

}  // namespace liveprobe::proc
