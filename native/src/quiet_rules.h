// What TypeScript asks to leave out of the trace because it is runtime noise
// (lib/syscalls/quieting.ts: Go's async preemption). Two kinds of rule:
//  - a call recognised by the value of one argument (tgkill(tgid, tid,
//    SIGURG)): under a seccomp filter it does not stop at all; when every
//    syscall stops it is not reported;
//  - a signal a process sent to one of its own threads with tgkill/tkill
//    (si_code SI_TKILL, si_pid its tgid): delivered as always, but not
//    reported; only counted.
// This side carries the rules out and knows no names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace liveprobe {

struct QuietCall {
  // Numbers per rule in the flat list from JS: arch, nr, arg, value.
  static constexpr int kFields = 4;
  // Each costs five BPF instructions in every filtered syscall.
  static constexpr size_t kMax = 16;

  uint32_t arch = 0;  // AUDIT_ARCH_* the number belongs to
  int32_t nr = -1;
  uint8_t arg = 0;
  // Compared with the argument's low 32 bits: the arguments these select on
  // are C ints in the kernel (a signal number), which ignores the high bits.
  uint32_t value = 0;
};

class QuietRules {
 public:
  // Parses the two flat lists; returns false, keeping no rule, if any value
  // is out of range.
  bool assign(const std::vector<double>& calls, const std::vector<double>& self_signals);

  const std::vector<QuietCall>& calls() const { return calls_; }
  bool hidesCall(uint32_t arch, int32_t nr, const uint64_t* args) const;
  bool hidesSelfSignal(int sig) const;

 private:
  std::vector<QuietCall> calls_;
  std::vector<int> self_signals_;
};

}  // namespace liveprobe
