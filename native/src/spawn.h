// Launching a target for `run`, shared by both engines: a child set up as
// the user asked (stdio, cwd, ASLR, default signal dispositions) that waits,
// before its execve, until the engine has made ready to follow it.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <vector>

#include "tracer.h"

namespace liveprobe {

struct HeldChild {
  pid_t pid = -1;
  int release_fd = -1;  // write one byte: the child goes on to its execve
  int error_fd = -1;    // EOF once the execve succeeded; else {errno, wire::ErrorSite}
  int err = 0;          // spawnHeld failed: errno, and what failed in `what`
  const char* what = "";
};

// Forks the child; it blocks in read(2) until released, then installs
// `filter` if given (the ptrace engine's seccomp program) and execs.
HeldChild spawnHeld(const RunOptions& opts, const std::vector<sock_filter>* filter);

// Lets it go (closes release_fd).
void releaseChild(HeldChild& c);

}  // namespace liveprobe
