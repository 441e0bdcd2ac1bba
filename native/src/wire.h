// Wire format between the tracer thread and TypeScript (docs/wire-format.md).
//
// A batch is one ArrayBuffer: a fixed header, `count` fixed-size records, then
// a data area that records point into by (offset, length) relative to the
// start of the data area. Everything is little-endian (x86_64 and aarch64).
// The TypeScript twin is lib/wire.ts; test/wire.test.ts checks that the two
// agree through layout(), which the addon exports from these constants.
#pragma once

#include <cstddef>
#include <cstdint>

namespace liveprobe::wire {

constexpr uint32_t kMagic = 0x4c505231;  // "LPR1"
constexpr uint16_t kVersion = 3;

struct BatchHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t record_size;
  uint32_t count;       // records in this batch
  uint32_t data_bytes;  // size of the data area after the records
  uint64_t lost;        // records dropped before this batch ('drop' mode only)
  uint32_t flags;       // kBatchLast: the session has ended, nothing follows
  uint32_t hidden;      // signals a quiet rule kept out since the last batch (tracer.cc)
  uint64_t stops;       // ptrace stops of the tracees since the last batch: what tracing cost them
};
static_assert(sizeof(BatchHeader) == 40, "batch header layout");

constexpr uint32_t kBatchLast = 1;

enum class Kind : uint16_t {
  kSyscall = 1,      // one completed (or unfinished) syscall
  kThreadStart = 2,  // a = parent tid, b = event (clone/fork/vfork)
  kThreadExit = 3,   // a = wait status
  kExec = 4,         // a = former tid, data = /proc/PID/exe target
  kSignal = 5,       // a = signo, b = si_code, arg0 = si_pid, arg1 = si_uid
  kExit = 6,         // process exit: a = wait status (leader), pid = tgid
  kSnapshot = 7,     // data = /proc/PID/maps, read while every thread was stopped; data2 (attach) = {u32 tid, u32 0, u64 sp, u64 ip} per thread; a = 1: a resync (perf engine, after lost records), read while the target ran
  kError = 8,        // a = errno, b = error site, data = detail text
  kDetached = 9,     // every task released
  kStarted = 10,     // run: exec succeeded / attach: all tasks seized; a = task count
};

// Record flags.
constexpr uint16_t kFlagHasReturn = 1 << 0;   // ret is valid (the exit stop was seen)
constexpr uint16_t kFlagUnfinished = 1 << 1;  // the task vanished inside the syscall
constexpr uint16_t kFlagNoEntry = 1 << 2;     // exit stop without an entry (first stop after attach)
constexpr uint16_t kFlagSeccomp = 1 << 3;     // entry was a seccomp stop
constexpr uint16_t kFlagGroupStop = 1 << 4;   // signal record: a group-stop, not a delivery
constexpr uint16_t kFlagDataTrunc = 1 << 5;   // data was cut at its bound
constexpr uint16_t kFlagReadFailed = 1 << 6;  // tracee memory for data could not be read
constexpr uint16_t kFlagHasCount = 1 << 7;    // syscall record: a = a count read from the tracee (execve's envp entries), b = 1: unreadable before its end
constexpr uint16_t kFlagHeld = 1 << 8;        // exit_group record: its thread waits at the entry stop until the consumer calls release()

// Error sites (kError.b).
enum class ErrorSite : uint32_t {
  kFork = 1,
  kExec = 2,
  kSeize = 3,
  kWait = 4,
  kInternal = 5,
  kChdir = 6,
  kSeccomp = 7,
  kPerf = 8,  // the perf engine could not open its tracepoint events
};

// Thread-start events (kThreadStart.b).
enum class StartEvent : uint32_t { kClone = 1, kFork = 2, kVfork = 3, kAttach = 4 };

struct Record {
  uint64_t seq;      // 0: contiguous from the session's first record
  uint64_t time_ns;  // 8: CLOCK_MONOTONIC
  uint32_t pid;      // 16: thread group id
  uint32_t tid;      // 20
  uint16_t kind;     // 24
  uint16_t flags;    // 26
  int32_t nr;        // 28: syscall number, -1 when not a syscall
  uint64_t args[6];  // 32
  int64_t ret;       // 80
  uint64_t entry_ns; // 88: syscall entry time
  uint32_t a;        // 96
  uint32_t b;        // 100
  uint32_t data_off; // 104: first extra-data blob (clone_args, exec path, maps, message, entry read)
  uint32_t data_len; // 108
  uint32_t data2_off;// 112: second blob (execve argv and envp as array entries; clone3's set_tid; a successful exit's read)
  uint32_t data2_len;// 116
  uint32_t arch;     // 120: AUDIT_ARCH_* of the syscall
  uint32_t reserved; // 124
};
static_assert(sizeof(Record) == 128, "record layout");

// Bounds on what is copied out of the tracee per syscall.
constexpr size_t kCloneArgsMax = 4096; // clone3's struct and the tail its size claims, up to a page, as strace reads it
constexpr size_t kSetTidMax = 32;      // clone3's set_tid entries: MAX_PID_NS_LEVEL (include/linux/pid_namespace.h)
constexpr size_t kPathMax = 4096;      // execve path
constexpr size_t kArgvMaxCount = 64;   // execve argv entries
constexpr size_t kArgvMaxBytes = 4096; // execve argv total
constexpr size_t kEnvpMaxCount = 1 << 20; // execve envp entries counted
constexpr size_t kEnvpMaxStrings = 256;   // execve envp entries copied
constexpr size_t kEnvpMaxBytes = 16384;   // execve envp bytes copied

// execve's argv and envp, one array after the other in data2: per element
// one entry, a packed header {u8 kind, u32 len, u64 ptr} then len bytes; each
// array ends with one of the last three kinds. Which element strace prints as
// a string, a pointer or `...` is decided in TypeScript (lib/syscalls/decode/
// string-arrays.ts); this only says what was readable.
enum class ArrayEntry : uint8_t {
  kString = 0,       // ptr's string up to its NUL (not included)
  kStringCut = 1,    // the bytes bound came before its NUL
  kStringFault = 2,  // unreadable after len bytes (len may be 0)
  kEnd = 3,          // the NULL that ends the array
  kFault = 4,        // ptr, an address in the array, could not be read
  kBound = 5,        // liveprobe's bound on entries or bytes came first
};
constexpr size_t kArrayEntryHeader = 13;

#define LIVEPROBE_RECORD_FIELDS(X) \
  X(seq) X(time_ns) X(pid) X(tid) X(kind) X(flags) X(nr) X(args) X(ret) X(entry_ns) \
  X(a) X(b) X(data_off) X(data_len) X(data2_off) X(data2_len) X(arch)

}  // namespace liveprobe::wire
