// The perf engine's kernel side: opening the syscall tracepoints of a process
// per (thread, CPU) with inherit, one mmap'ed ring buffer per CPU, and
// parsing what the rings hold into plain items. What each tracepoint is and
// where its fields lie comes from TypeScript (lib/perf/tracefs.ts reads the
// tracefs `format` files); this file knows only the record layouts of
// include/uapi/linux/perf_event.h. docs/perf-engine.md explains the choices.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace liveprobe {

// What one tracepoint is for the engine (lib/perf/events.ts perfEventList
// gives them flat, kFields numbers each).
struct PerfEventSpec {
  // kRawEnter/kRawExit: raw_syscalls, the syscall number in a field.
  enum Role : uint32_t { kSysEnter = 1, kSysExit = 2, kTaskNew = 3, kProcessExit = 4, kRawEnter = 5, kRawExit = 6 };
  static constexpr size_t kFields = 10;
  static constexpr uint32_t kFlagStackSample = 1;  // sample the user stack + sp/ip (clone3's struct)
  uint32_t id = 0;       // tracefs events/<group>/<name>/id
  uint32_t role = 0;
  int32_t nr = -1;       // the syscall (enter/exit roles)
  int32_t off[6] = {-1, -1, -1, -1, -1, -1};  // raw-field offsets: enter: args; exit: ret; newtask: pid, clone_flags; exit: pid, group_dead; raw enter: id, args[6]; raw exit: id, ret
  uint32_t flags = 0;
  std::string filter;    // PERF_EVENT_IOC_SET_FILTER, once at open ('' none)
  // From the flat list; false if malformed (a role out of range, an offset beyond a raw record).
  static bool parse(const std::vector<double>& flat, std::vector<PerfEventSpec>& out);
};

// One parsed ring record.
struct PerfItem {
  enum Kind : uint8_t { kSample, kLost, kResync };
  Kind kind = kSample;
  uint64_t time = 0;   // CLOCK_MONOTONIC (use_clockid)
  uint32_t pid = 0;    // tgid as the sample saw it
  uint32_t tid = 0;
  uint32_t event = 0;  // index into the spec list
  int32_t nr = -1;     // the syscall (raw roles read it from the record, the others from the spec)
  pid_t owner = 0;     // the thread the event was opened for (inherited events report their parent's id)
  uint64_t v[6] = {};  // the role's fields in off[] order (0 where absent)
  uint64_t lost = 0;   // kLost: records the kernel dropped
  std::string blob;    // clone3's struct clone_args out of the stack sample; kResync: the maps text
  bool blob_failed = false;  // a stack sample was asked for but did not hold the struct
};

class PerfEvents {
 public:
  PerfEvents() = default;
  ~PerfEvents();
  PerfEvents(const PerfEvents&) = delete;
  PerfEvents& operator=(const PerfEvents&) = delete;

  // Opens every spec for tid on every CPU; 0 or the errno of the failure.
  int openThread(pid_t tid, const std::vector<PerfEventSpec>& specs, uint32_t pages);
  bool hasThread(pid_t tid) const;
  // Appends what the rings hold to out; bounds-checked, a corrupt record skips the rest of its ring.
  void drain(std::vector<PerfItem>& out, const std::vector<PerfEventSpec>& specs);
  const std::vector<int>& ringFds() const { return ring_fds_; }
  // Stops every event (and its inherited copies) at once.
  void disable();
  // Hands the fds and mappings to a detached thread that closes them: the
  // kernel takes about a second to unregister the tracepoints, and neither a
  // detach nor the process's exit should wait for it.
  void closeInBackground();
  size_t fdCount() const { return fds_.size(); }
  // A ring was found nearly full since the last call: the kernel may have
  // dropped records whose PERF_RECORD_LOST it writes only with its next
  // record, which may never come if the target goes quiet.
  bool takeFullSeen() {
    bool f = full_seen_;
    full_seen_ = false;
    return f;
  }

 private:
  struct Ring {
    int fd = -1;
    void* base = nullptr;
    size_t map_bytes = 0;
    size_t data_bytes = 0;
  };
  struct IdInfo {
    uint32_t event;
    pid_t owner;
  };
  void drainRing(Ring& r, std::vector<PerfItem>& out, const std::vector<PerfEventSpec>& specs);
  bool parseSample(const uint8_t* rec, size_t len, PerfItem& item, const std::vector<PerfEventSpec>& specs);

  std::vector<int> fds_;
  std::vector<Ring> rings_;  // index: cpu (fd -1 where the CPU is offline)
  std::vector<int> ring_fds_;
  std::unordered_map<uint64_t, IdInfo> ids_;
  std::vector<pid_t> threads_;
  std::vector<uint8_t> scratch_;  // a record that wraps the ring's end
  bool full_seen_ = false;
  bool inherit_thread_ = true;  // attr.inherit_thread accepted (Linux 5.13+)
};

// The user stack bytes sampled with clone3's entry (enough for glibc's
// clone_args, which it keeps in the caller's frame).
constexpr uint32_t kPerfStackSampleBytes = 2048;

}  // namespace liveprobe
