// Numbers that come from JavaScript as doubles and must be integers in a
// range before the native side uses them (rule lists from lib/syscalls).
#pragma once

#include <cmath>

namespace liveprobe {

inline bool integral(double v, double lo, double hi) { return std::floor(v) == v && v >= lo && v <= hi; }

}  // namespace liveprobe
