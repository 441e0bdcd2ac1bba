// The few syscall numbers the native side must know, because it reads extra
// tracee state for them (clone3's struct, execve's strings, the file behind
// an mmap'd fd, read while the fd still exists) or because they never return. Everything else is
// interpreted in TypeScript (lib/syscalls/); test/native-numbers.test.ts
// checks these against the TypeScript tables.
#pragma once

#include <linux/audit.h>

#include <cstdint>

namespace liveprobe::nr {

// The architecture liveprobe is built for, as the kernel names it in seccomp
// data and PTRACE_GET_SYSCALL_INFO.
#if defined(__x86_64__)
constexpr uint32_t kHostArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kHostArch = AUDIT_ARCH_AARCH64;
#else
#error "liveprobe supports x86_64 and aarch64"
#endif

enum Which { kClone3, kExecve, kExecveat, kExit, kExitGroup, kClone, kMmap, kCount };

struct ArchNumbers {
  uint32_t audit_arch;
  const char* name;
  int32_t numbers[kCount];
};

constexpr ArchNumbers kArches[] = {
    {AUDIT_ARCH_X86_64, "x86_64", {435, 59, 322, 60, 231, 56, 9}},
    {AUDIT_ARCH_AARCH64, "aarch64", {435, 221, 281, 93, 94, 220, 222}},
};

constexpr const char* kWhichNames[kCount] = {"clone3", "execve", "execveat",
                                            "exit", "exit_group", "clone", "mmap"};

inline int32_t lookup(uint32_t audit_arch, Which w) {
  for (const auto& a : kArches)
    if (a.audit_arch == audit_arch) return a.numbers[w];
  return -2;
}

}  // namespace liveprobe::nr
