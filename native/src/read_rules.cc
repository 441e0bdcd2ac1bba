#include "read_rules.h"

#include "js_number.h"
#include "tracee_memory.h"

#include <cstring>

namespace liveprobe {

bool ReadRules::assign(const std::vector<double>& flat) {
  rules_.clear();
  any_.clear();
  if (flat.size() % ReadRule::kFields != 0) return false;
  std::vector<ReadRule> parsed;
  for (size_t i = 0; i < flat.size(); i += ReadRule::kFields) {
    const double* f = &flat[i];
    if (!integral(f[0], 0, 4294967295.0) || !integral(f[1], 0, 1023) || !integral(f[2], 0, 1) ||
        !integral(f[3], 0, 5) || !integral(f[4], 1, ReadRule::kMaxBytes) || !integral(f[5], 0, 1) ||
        !integral(f[6], 0, f[4]))
      return false;
    ReadRule r;
    r.arch = uint32_t(f[0]);
    r.nr = int32_t(f[1]);
    r.at_exit = f[2] != 0;
    r.ptr_arg = uint8_t(f[3]);
    r.max_bytes = uint32_t(f[4]);
    r.string = f[5] != 0;
    r.keep_bytes = uint32_t(f[6]);
    // Then two conditions, each as arg (-1: none), mask, value.
    for (int c = 0; c < 2; ++c) {
      const double* k = &f[7 + 3 * c];
      if (!integral(k[0], -1, 5) || !integral(k[1], 0, 4294967295.0) || !integral(k[2], 0, 4294967295.0))
        return false;
      r.cond_arg[c] = int8_t(k[0]);
      r.cond_mask[c] = uint32_t(k[1]);
      r.cond_value[c] = uint32_t(k[2]);
    }
    // Then the pointer to follow: none (-1, 0), or a u64 inside a bytes copy.
    const double* t = &f[13];
    bool none = t[0] == -1 && t[1] == 0;
    bool follows = !r.string && integral(t[0], 0, double(r.max_bytes) - 8) && integral(t[1], 1, ReadRule::kMaxBytes);
    if (!none && !follows) return false;
    r.then_ptr_off = int32_t(t[0]);
    r.then_bytes = uint32_t(t[1]);
    parsed.push_back(r);
  }
  rules_ = std::move(parsed);
  any_.assign(1024, false);
  for (const ReadRule& r : rules_) any_[size_t(r.nr)] = true;
  return true;
}

void ReadRules::read(pid_t tid, uint32_t arch, int32_t nr, const uint64_t* args, bool at_exit,
                     std::string& out, bool& read_failed) const {
  for (const ReadRule& r : rules_) {
    if (r.nr != nr || r.arch != arch || r.at_exit != at_exit) continue;
    bool match = true;
    for (int c = 0; c < 2 && match; ++c)
      if (r.cond_arg[c] >= 0) match = (uint32_t(args[r.cond_arg[c]]) & r.cond_mask[c]) == r.cond_value[c];
    if (!match) continue;
    uint64_t addr = args[r.ptr_arg];
    if (addr == 0) return;
    out.clear();
    if (r.string) {
      bool cut = false;
      if (!readTraceeString(tid, addr, r.max_bytes, out, cut)) {
        // Unreadable before its NUL: keep a long enough start, unterminated.
        if (r.keep_bytes == 0 || out.size() < r.keep_bytes) {
          out.clear();
          read_failed = true;
        }
      } else if (!cut) {
        out.push_back('\0');
      }
    } else {
      char buf[ReadRule::kMaxBytes];
      ssize_t got = readTraceeMemory(tid, addr, buf, r.max_bytes);
      if (got == ssize_t(r.max_bytes) || (r.keep_bytes > 0 && got >= ssize_t(r.keep_bytes))) {
        out.assign(buf, size_t(got));
        if (got != ssize_t(r.max_bytes)) read_failed = true;  // kept, but cut short
      } else {
        read_failed = true;
      }
      if (r.then_ptr_off >= 0 && got == ssize_t(r.max_bytes)) {
        uint64_t then = 0;
        std::memcpy(&then, buf + r.then_ptr_off, sizeof then);
        ssize_t more = then != 0 ? readTraceeMemory(tid, then, buf, r.then_bytes) : 0;
        if (more > 0) out.append(buf, size_t(more));
      }
    }
    return;
  }
}

}  // namespace liveprobe
