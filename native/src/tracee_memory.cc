#include "tracee_memory.h"

#include "wire.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace liveprobe {

namespace {
size_t pageSize() {
  static const size_t size = size_t(sysconf(_SC_PAGESIZE));
  return size;
}
}  // namespace

ssize_t readTraceeMemory(pid_t tid, uint64_t addr, void* buf, size_t len) {
  if (len == 0) return 0;
  if (addr + len < addr) len = size_t(~uint64_t(0) - addr);  // no wrap-around
  // process_vm_readv fails as a whole on a partially unmapped iovec, so read
  // page by page and return what was readable.
  size_t done = 0;
  auto* out = static_cast<uint8_t*>(buf);
  while (done < len) {
    uint64_t at = addr + done;
    size_t chunk = std::min(len - done, pageSize() - size_t(at % pageSize()));
    iovec local{out + done, chunk};
    iovec remote{reinterpret_cast<void*>(at), chunk};
    ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
    if (n <= 0) {
      if (done == 0) return -1;
      break;
    }
    done += size_t(n);
    if (size_t(n) < chunk) break;
  }
  return ssize_t(done);
}

bool readTraceeString(pid_t tid, uint64_t addr, size_t max, std::string& out, bool& truncated) {
  out.clear();
  truncated = false;
  char chunk[256];
  while (out.size() < max) {
    size_t want = std::min(sizeof chunk, max - out.size());
    ssize_t n = readTraceeMemory(tid, addr + out.size(), chunk, want);
    if (n <= 0) return false;  // unreadable here: no NUL was found
    const char* nul = static_cast<const char*>(std::memchr(chunk, 0, size_t(n)));
    if (nul) {
      out.append(chunk, size_t(nul - chunk));
      return true;
    }
    out.append(chunk, size_t(n));
    // The mapping ends before a NUL: the kernel would fail with EFAULT; we
    // keep what was readable and say it is incomplete.
    if (size_t(n) < want) return false;
  }
  truncated = true;
  return true;
}

namespace {
void appendEntry(std::string& out, wire::ArrayEntry kind, uint64_t ptr, const std::string& bytes) {
  char header[wire::kArrayEntryHeader];
  header[0] = char(kind);
  uint32_t len = uint32_t(bytes.size());
  std::memcpy(header + 1, &len, sizeof len);
  std::memcpy(header + 5, &ptr, sizeof ptr);
  out.append(header, sizeof header);
  out.append(bytes);
}
}  // namespace

bool readTraceePointerArray(pid_t tid, uint64_t addr, size_t max_count, size_t max_bytes, std::string& out) {
  const std::string none;
  if (addr == 0) {
    appendEntry(out, wire::ArrayEntry::kEnd, 0, none);
    return true;
  }
  std::string one;
  size_t bytes = 0;
  for (size_t i = 0;; ++i) {
    uint64_t slot = addr + i * sizeof(uint64_t);
    if (i == max_count || bytes >= max_bytes) {
      appendEntry(out, wire::ArrayEntry::kBound, slot, none);
      return false;
    }
    uint64_t ptr = 0;
    // An array that wraps around the address space is unreadable there.
    if (slot < addr || readTraceeMemory(tid, slot, &ptr, sizeof ptr) != sizeof ptr) {
      appendEntry(out, wire::ArrayEntry::kFault, slot, none);
      return true;
    }
    if (ptr == 0) {
      appendEntry(out, wire::ArrayEntry::kEnd, 0, none);
      return true;
    }
    bool cut = false;
    bool whole = readTraceeString(tid, ptr, max_bytes - bytes, one, cut);
    appendEntry(out, !whole ? wire::ArrayEntry::kStringFault : cut ? wire::ArrayEntry::kStringCut : wire::ArrayEntry::kString,
                ptr, one);
    bytes += one.size() + 1;
  }
}

bool countTraceePointers(pid_t tid, uint64_t addr, size_t max_count, uint32_t& count, bool& truncated) {
  count = 0;
  truncated = false;
  uint64_t chunk[512];  // one 4 KiB read per step, not one per pointer
  while (count < max_count) {
    uint64_t at = addr + uint64_t(count) * sizeof(uint64_t);
    if (at < addr) return false;  // wraps around: unreadable
    size_t want = std::min(sizeof chunk / sizeof chunk[0], max_count - count);
    ssize_t n = readTraceeMemory(tid, at, chunk, want * sizeof(uint64_t));
    if (n < ssize_t(sizeof(uint64_t))) return false;
    size_t got = size_t(n) / sizeof(uint64_t);
    for (size_t i = 0; i < got; ++i) {
      if (chunk[i] == 0) return true;
      ++count;
    }
    if (got < want) return false;  // the mapping ended before the NULL
  }
  truncated = true;
  return true;
}

}  // namespace liveprobe
