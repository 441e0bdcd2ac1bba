#include "seccomp_filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "syscall_numbers.h"

namespace liveprobe {

namespace {
using nr::kHostArch;
constexpr uint32_t kX32Bit = 0x40000000;

sock_filter stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return sock_filter{code, jt, jf, k}; }
}  // namespace

std::vector<sock_filter> buildSeccompFilter(const std::vector<int32_t>& traced,
                                           const std::vector<QuietCall>& quiet) {
  std::vector<sock_filter> p;
  p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, kHostArch, 1, 0));
  p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_TRACE));
  p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  p.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 0, 1));
  p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_TRACE));
  // A quiet call runs untraced: five instructions per rule, before the
  // list, so that every jump stays short. A miss reloads the number and goes
  // on (to another rule for the same call, then to the list). Only this
  // arch's rules apply: other numbers never get past the arch check.
  for (const QuietCall& q : quiet) {
    if (q.arch != kHostArch) continue;
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, uint32_t(q.nr), 0, 4));  // another call: skip the rule
    // The argument's low word (little-endian): the kernel reads an int there.
    p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(offsetof(seccomp_data, args) + 8 * q.arg)));
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, q.value, 0, 1));
    p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  }
  // One comparison per traced number; a match jumps to the final RET_TRACE.
  size_t n = traced.size();
  for (size_t i = 0; i < n; ++i) {
    uint8_t to_trace = uint8_t(n - i);  // skip the remaining compares and the RET_ALLOW
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, uint32_t(traced[i]), to_trace, 0));
  }
  p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_TRACE));
  return p;
}

int installSeccompFilter(const std::vector<sock_filter>& program) {
  sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  // Required without CAP_SYS_ADMIN; it also means setuid programs run by the
  // target do not gain privileges (documented in the README).
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return errno;
  return 0;
}

}  // namespace liveprobe
