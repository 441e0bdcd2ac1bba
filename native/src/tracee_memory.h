// Bounded reads of tracee memory. Every size here comes from our own bounds,
// never from the tracee: a hostile or buggy tracee can pass any pointer.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace liveprobe {

// Reads up to len bytes at addr; returns the number read (stops at the first
// unreadable page), or -1 with errno.
ssize_t readTraceeMemory(pid_t tid, uint64_t addr, void* buf, size_t len);

// Reads a NUL-terminated string of at most max bytes. Returns false when it
// could not be read up to its NUL (unreadable at addr, or the mapping ends
// first); out keeps the bytes that were readable. truncated is set when no NUL
// came within max.
bool readTraceeString(pid_t tid, uint64_t addr, size_t max, std::string& out, bool& truncated);

// Appends a NULL-terminated array of string pointers (argv, envp) to out as
// wire::ArrayEntry entries (wire.h): every string as far as it was readable,
// an unreadable one with its address, then how the array ended (its NULL, an
// unreadable pointer, or max_count strings / max_bytes in total). A NULL addr
// is an empty array. Returns false when the bound was reached.
bool readTraceePointerArray(pid_t tid, uint64_t addr, size_t max_count, size_t max_bytes, std::string& out);

// Counts the pointers of a NULL-terminated array (execve's envp) up to
// max_count. Returns false when the array became unreadable before its NULL
// (count holds the pointers read so far); truncated when max_count was hit.
bool countTraceePointers(pid_t tid, uint64_t addr, size_t max_count, uint32_t& count, bool& truncated);

}  // namespace liveprobe
