// Tracee memory that TypeScript asks to have copied for a syscall: which
// syscall, at entry or at a successful exit, which argument points at it, how
// many bytes, and the argument values that make the read apply (prctl's
// option, arch_prctl's code). The rules come from lib/syscalls/memory-reads.ts;
// this file only carries them out, so the native side knows no option names.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace liveprobe {

struct ReadRule {
  static constexpr uint32_t kMaxBytes = 4096;  // our bound on any one rule's read: PATH_MAX
  // Numbers per rule in the flat list from JS: arch, nr, at_exit, ptr_arg,
  // max_bytes, string, keep_bytes, two conditions, each as arg, mask, value,
  // then then_ptr_off and then_bytes.
  static constexpr int kFields = 15;

  uint32_t arch = 0;    // AUDIT_ARCH_* the numbers belong to
  int32_t nr = -1;
  bool at_exit = false;  // at a successful exit (the kernel wrote it), else at entry
  uint8_t ptr_arg = 0;   // the argument that holds the address
  uint32_t max_bytes = 0;
  bool string = false;   // stop at the first NUL (kept in the copy, so "" is not "unreadable")
  // A string that becomes unreadable before its NUL is kept (without a NUL)
  // when at least this many bytes were read; else the read failed. strace
  // prints such a string when its own read length was readable. Bytes (an
  // array strace reads element by element) keep their readable start if it
  // is at least this long.
  uint32_t keep_bytes = 0;
  // Up to two conditions: (uint32(args[arg]) & mask) == value; arg -1: none.
  // Low 32 bits only: the options these select on are C ints in the kernel;
  // for a wider argument (PR_SET_VMA's attr, clone's flags) a value with the
  // same low bits makes a copy the decoder then ignores, nothing worse.
  int8_t cond_arg[2] = {-1, -1};
  uint32_t cond_mask[2] = {0, 0};
  uint32_t cond_value[2] = {0, 0};
  // A struct that points at an array (struct sock_fprog's filter): after a
  // whole copy, up to then_bytes more at the u64 at this offset in it,
  // appended as far as readable; -1: none.
  int32_t then_ptr_off = -1;
  uint32_t then_bytes = 0;
};

class ReadRules {
 public:
  // Parses the flat list (kFields numbers per rule); returns false, keeping
  // no rule, if any value is out of range.
  bool assign(const std::vector<double>& flat);

  bool wants(int32_t nr) const { return nr >= 0 && size_t(nr) < any_.size() && any_[size_t(nr)]; }

  // Copies what the first matching rule for this stop asks for into out.
  // Leaves out empty (and sets read_failed) when the memory was unreadable
  // or, for a string, ended before a NUL; a NULL pointer is not read.
  void read(pid_t tid, uint32_t arch, int32_t nr, const uint64_t* args, bool at_exit,
            std::string& out, bool& read_failed) const;

 private:
  std::vector<ReadRule> rules_;
  std::vector<bool> any_;  // by syscall number
};

}  // namespace liveprobe
