#include "perf_events.h"

#include <asm/perf_regs.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <new>
#include <pthread.h>

#include "wire.h"

namespace liveprobe {

namespace {

#if defined(__x86_64__)
constexpr uint64_t kRegsMask = (1ULL << PERF_REG_X86_SP) | (1ULL << PERF_REG_X86_IP);
#elif defined(__aarch64__)
constexpr uint64_t kRegsMask = (1ULL << PERF_REG_ARM64_SP) | (1ULL << PERF_REG_ARM64_PC);
#endif
// Registers come out in the order of their bit: sp first on both.
constexpr int kRegsCount = 2;

constexpr uint64_t kSampleType =
    PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;

long perfEventOpen(perf_event_attr* attr, pid_t pid, int cpu) {
  return syscall(SYS_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

int cpuCount() {
  long n = sysconf(_SC_NPROCESSORS_CONF);
  return n > 0 ? int(n) : 1;
}

// What closeInBackground hands to its thread.
struct CloseJob {
  std::vector<int> fds;
  std::vector<std::pair<void*, size_t>> maps;
  static void* run(void* arg) {
    auto* job = static_cast<CloseJob*>(arg);
    for (auto& [base, bytes] : job->maps) munmap(base, bytes);
    for (int fd : job->fds) close(fd);
    delete job;
    return nullptr;
  }
};

// A bounded reader over one record.
struct Cursor {
  const uint8_t* p;
  size_t len;
  size_t at = 0;
  bool ok = true;
  template <typename T>
  T take() {
    T v{};
    if (at + sizeof v > len) {
      ok = false;
      return v;
    }
    std::memcpy(&v, p + at, sizeof v);
    at += sizeof v;
    return v;
  }
  const uint8_t* skip(size_t n) {
    if (n > len || at + n > len) {
      ok = false;
      return nullptr;
    }
    const uint8_t* q = p + at;
    at += n;
    return q;
  }
};

// A raw tracepoint field of `size` bytes at `off`, zero-extended; false if outside the raw record.
bool rawField(const uint8_t* raw, uint32_t raw_len, int32_t off, size_t size, uint64_t& out) {
  out = 0;
  if (off < 0 || size_t(off) + size > raw_len) return false;
  std::memcpy(&out, raw + off, size);  // little-endian: the low bytes
  return true;
}

}  // namespace

bool PerfEventSpec::parse(const std::vector<double>& flat, std::vector<PerfEventSpec>& out) {
  out.clear();
  if (flat.size() % kFields != 0) return false;
  // Every number checked finite and in range before its cast: a double out
  // of an integer type's range (or NaN, which IsNumber accepts) converts
  // with undefined behaviour.
  auto in = [](double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; };
  for (size_t i = 0; i < flat.size(); i += kFields) {
    PerfEventSpec s;
    if (!in(flat[i], 1, 1e6)) return false;
    s.id = uint32_t(flat[i]);
    if (!in(flat[i + 1], kSysEnter, kRawExit)) return false;
    s.role = uint32_t(flat[i + 1]);
    if (!in(flat[i + 2], -1, 4095)) return false;
    s.nr = int32_t(flat[i + 2]);
    for (int k = 0; k < 6; ++k) {
      double o = flat[i + 3 + size_t(k)];
      if (!in(o, -1, 4096)) return false;
      s.off[k] = int32_t(o);
    }
    if (!in(flat[i + 9], 0, kFlagStackSample)) return false;
    s.flags = uint32_t(flat[i + 9]);
    out.push_back(s);
  }
  return true;
}

PerfEvents::~PerfEvents() {
  for (Ring& r : rings_)
    if (r.base) munmap(r.base, r.map_bytes);
  for (int fd : fds_) close(fd);
}

bool PerfEvents::hasThread(pid_t tid) const {
  return std::find(threads_.begin(), threads_.end(), tid) != threads_.end();
}

int PerfEvents::openThread(pid_t tid, const std::vector<PerfEventSpec>& specs, uint32_t pages) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  if (rings_.empty()) rings_.resize(size_t(cpuCount()));
  threads_.push_back(tid);
  for (size_t cpu = 0; cpu < rings_.size(); ++cpu) {
    for (size_t e = 0; e < specs.size(); ++e) {
      perf_event_attr a;
      std::memset(&a, 0, sizeof a);
      a.type = PERF_TYPE_TRACEPOINT;
      a.size = sizeof a;
      a.config = specs[e].id;
      a.sample_period = 1;
      a.sample_type = kSampleType;
      // Threads created later get a copy of their creator's events; their
      // samples go to the creator's ring (docs/perf-engine.md). Only
      // threads (Linux 5.13+): a forked child's calls would fill the
      // target's rings and count as its loss.
      a.inherit = 1;
      a.inherit_thread = inherit_thread_ ? 1 : 0;
      a.sample_id_all = 1;  // a LOST record carries its time
      a.use_clockid = 1;
      a.clockid = CLOCK_MONOTONIC;
      a.watermark = 1;
      a.wakeup_watermark = uint32_t(pages * page / 4);
      if (specs[e].flags & PerfEventSpec::kFlagStackSample) {
        a.sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
        a.sample_regs_user = kRegsMask;
        a.sample_stack_user = kPerfStackSampleBytes;
      }
      long fd = perfEventOpen(&a, tid, int(cpu));
      if (fd < 0 && errno == EINVAL && a.inherit_thread) {
        inherit_thread_ = false;  // an older kernel: children inherit too
        a.inherit_thread = 0;
        fd = perfEventOpen(&a, tid, int(cpu));
      }
      if (fd < 0) {
        if (errno == ENODEV && e == 0) break;  // an offline CPU
        return errno;
      }
      fds_.push_back(int(fd));
      if (!specs[e].filter.empty() && ioctl(int(fd), PERF_EVENT_IOC_SET_FILTER, specs[e].filter.c_str()) != 0) return errno;
      uint64_t id = 0;
      if (ioctl(int(fd), PERF_EVENT_IOC_ID, &id) != 0) return errno;
      ids_[id] = IdInfo{uint32_t(e), tid};
      Ring& r = rings_[cpu];
      if (r.fd < 0) {
        r.data_bytes = size_t(pages) * page;
        r.map_bytes = r.data_bytes + page;
        void* m = mmap(nullptr, r.map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, int(fd), 0);
        if (m == MAP_FAILED) return errno;
        r.base = m;
        r.fd = int(fd);
        ring_fds_.push_back(int(fd));
      } else if (ioctl(int(fd), PERF_EVENT_IOC_SET_OUTPUT, r.fd) != 0) {
        return errno;
      }
    }
  }
  return 0;
}

void PerfEvents::disable() {
  for (int fd : fds_) ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
}

void PerfEvents::closeInBackground() {
  // The kernel unregisters a tracepoint when its last event closes, with an
  // RCU wait under event_mutex (kernel/trace/trace_event_perf.c
  // perf_trace_destroy): serial whatever the threads, so one is enough.
  std::vector<int> fds;
  fds.swap(fds_);
  std::vector<std::pair<void*, size_t>> maps;
  for (Ring& r : rings_)
    if (r.base) maps.emplace_back(r.base, r.map_bytes);
  rings_.clear();
  ring_fds_.clear();
  if (fds.empty()) return;
  // pthread_create rather than std::thread: a failure to start one must
  // close inline, not throw on the reader thread (built -fno-exceptions).
  auto* job = new (std::nothrow) CloseJob{std::move(fds), std::move(maps)};
  if (!job) return;  // the process is out of memory: leave them to its exit
  pthread_attr_t attr;
  pthread_t thread;
  bool started = pthread_attr_init(&attr) == 0;
  if (started) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    started = pthread_create(&thread, &attr, &CloseJob::run, job) == 0;
    pthread_attr_destroy(&attr);
  }
  if (!started) CloseJob::run(job);
}

void PerfEvents::drain(std::vector<PerfItem>& out, const std::vector<PerfEventSpec>& specs) {
  for (Ring& r : rings_)
    if (r.base) drainRing(r, out, specs);
}

void PerfEvents::drainRing(Ring& r, std::vector<PerfItem>& out, const std::vector<PerfEventSpec>& specs) {
  auto* meta = static_cast<perf_event_mmap_page*>(r.base);
  const uint8_t* data = static_cast<const uint8_t*>(r.base) + (r.map_bytes - r.data_bytes);
  uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
  uint64_t tail = meta->data_tail;
  // Room for less than one clone3 sample (the largest record) left.
  if (head - tail + sizeof(perf_event_header) + 8 * 8 + kPerfStackSampleBytes >= r.data_bytes) full_seen_ = true;
  while (tail < head) {
    if (head - tail < sizeof(perf_event_header)) break;
    perf_event_header h;
    size_t at = size_t(tail % r.data_bytes);
    // The header itself may wrap.
    for (size_t i = 0; i < sizeof h; ++i) reinterpret_cast<uint8_t*>(&h)[i] = data[(at + i) % r.data_bytes];
    if (h.size < sizeof h || h.size > head - tail || h.size > r.data_bytes) {
      tail = head;  // corrupt: skip what is left rather than misread it
      break;
    }
    const uint8_t* rec;
    if (at + h.size <= r.data_bytes) {
      rec = data + at;
    } else {
      scratch_.resize(h.size);
      size_t first = r.data_bytes - at;
      std::memcpy(scratch_.data(), data + at, first);
      std::memcpy(scratch_.data() + first, data, h.size - first);
      rec = scratch_.data();
    }
    if (h.type == PERF_RECORD_SAMPLE) {
      PerfItem item;
      if (parseSample(rec, h.size, item, specs)) out.push_back(std::move(item));
    } else if (h.type == PERF_RECORD_LOST) {
      // {header, u64 id, u64 lost, sample_id: u32 pid, u32 tid, u64 time, …}
      Cursor c{rec, h.size};
      c.skip(sizeof h);
      c.take<uint64_t>();
      PerfItem item;
      item.kind = PerfItem::kLost;
      item.lost = c.take<uint64_t>();
      item.pid = c.take<uint32_t>();
      item.tid = c.take<uint32_t>();
      item.time = c.take<uint64_t>();
      if (c.ok) out.push_back(std::move(item));
    }
    tail += h.size;
  }
  __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}

bool PerfEvents::parseSample(const uint8_t* rec, size_t len, PerfItem& item,
                             const std::vector<PerfEventSpec>& specs) {
  Cursor c{rec, len};
  c.skip(sizeof(perf_event_header));
  uint64_t id = c.take<uint64_t>();
  auto it = ids_.find(id);
  if (!c.ok || it == ids_.end() || it->second.event >= specs.size()) return false;
  const PerfEventSpec& spec = specs[it->second.event];
  item.event = it->second.event;
  item.owner = it->second.owner;
  item.pid = c.take<uint32_t>();
  item.tid = c.take<uint32_t>();
  item.time = c.take<uint64_t>();
  c.take<uint64_t>();  // cpu, reserved
  uint32_t raw_len = c.take<uint32_t>();
  const uint8_t* raw = c.skip(raw_len);
  if (!c.ok) return false;
  item.nr = spec.nr;
  switch (spec.role) {
    case PerfEventSpec::kRawEnter: {
      uint64_t id;
      if (!rawField(raw, raw_len, spec.off[0], 8, id)) return false;
      item.nr = int32_t(int64_t(id));
      for (int k = 0; k < 6; ++k)
        if (!rawField(raw, raw_len, spec.off[1] + 8 * k, 8, item.v[k])) return false;
      break;
    }
    case PerfEventSpec::kRawExit: {
      uint64_t id;
      if (!rawField(raw, raw_len, spec.off[0], 8, id) || !rawField(raw, raw_len, spec.off[1], 8, item.v[0])) return false;
      item.nr = int32_t(int64_t(id));
      break;
    }
    case PerfEventSpec::kSysEnter:
      for (int k = 0; k < 6; ++k)
        if (spec.off[k] >= 0 && !rawField(raw, raw_len, spec.off[k], 8, item.v[k])) return false;
      break;
    case PerfEventSpec::kSysExit:
      if (!rawField(raw, raw_len, spec.off[0], 8, item.v[0])) return false;
      break;
    case PerfEventSpec::kTaskNew:
      if (!rawField(raw, raw_len, spec.off[0], 4, item.v[0]) || !rawField(raw, raw_len, spec.off[1], 8, item.v[1]))
        return false;
      break;
    case PerfEventSpec::kProcessExit:
      if (!rawField(raw, raw_len, spec.off[0], 4, item.v[0])) return false;
      if (spec.off[1] >= 0) rawField(raw, raw_len, spec.off[1], 1, item.v[1]);
      else item.v[1] = 2;  // an older kernel without group_dead: unknown
      break;
  }
  if (spec.flags & PerfEventSpec::kFlagStackSample) {
    item.blob_failed = true;
    uint64_t abi = c.take<uint64_t>();
    uint64_t sp = 0;
    if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
      sp = c.take<uint64_t>();
      for (int k = 1; k < kRegsCount; ++k) c.take<uint64_t>();
    }
    uint64_t size = c.take<uint64_t>();
    const uint8_t* stack = c.skip(size_t(size));
    uint64_t dyn = size ? c.take<uint64_t>() : 0;
    if (!c.ok) return true;  // the syscall is known; only its struct is missing
    // clone3(uargs, size): the struct lies in the sampled bytes only if
    // uargs is at or above sp and its bytes end within what was copied.
    uint64_t uargs = item.v[0];
    uint64_t want = std::min<uint64_t>(item.v[1], wire::kCloneArgsMax);
    uint64_t have = std::min(size, dyn);
    if (abi != PERF_SAMPLE_REGS_ABI_NONE && uargs >= sp && want > 0 && uargs - sp <= have &&
        want <= have - (uargs - sp)) {
      item.blob.assign(reinterpret_cast<const char*>(stack + (uargs - sp)), size_t(want));
      item.blob_failed = false;
    }
  }
  return true;
}

}  // namespace liveprobe
