// The seccomp-BPF program a launched target installs before its execve: only
// the syscalls in the trace set stop (SECCOMP_RET_TRACE); everything else runs
// at native speed (docs/architecture.md, "Why run uses a seccomp filter").
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

#include "quiet_rules.h"

namespace liveprobe {

// Builds the program for the host architecture. Syscalls of any other
// architecture (i386 via int 0x80) and x32 numbers are always traced: the
// numbers in the set would not mean the same there. A call that a quiet
// rule of the host arch matches runs untraced.
std::vector<sock_filter> buildSeccompFilter(const std::vector<int32_t>& traced,
                                           const std::vector<QuietCall>& quiet);

// Installs it in the calling thread: async-signal-safe (called between fork
// and exec). Returns 0 or an errno.
int installSeccompFilter(const std::vector<sock_filter>& program);

}  // namespace liveprobe
