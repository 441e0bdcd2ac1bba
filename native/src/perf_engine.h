// The perf engine: attach without stopping the target at its syscalls. The
// kernel's syscall tracepoints (perf_events.h) feed one reader thread, which
// merges the per-CPU rings by time, pairs each thread's entry and exit into
// the same `syscall` records the ptrace engine writes (wire.h), and hands
// batches to the same transport under the same credit window. A brief ptrace
// stop of every thread gives the attach snapshot. docs/perf-engine.md.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "batch_writer.h"
#include "perf_events.h"
#include "quiet_rules.h"
#include "tracer.h"

namespace liveprobe {

struct PerfAttachOptions {
  pid_t pid = 0;
  std::vector<PerfEventSpec> events;
  uint32_t pages = 256;  // per CPU ring, a power of two
  QuietRules quiet;      // runtime noise not to report (counted as hidden signals: each such tgkill sends one)
};

class PerfEngine {
 public:
  PerfEngine(BatchTransport& transport, OverflowPolicy policy);
  ~PerfEngine();

  // Reader thread: the whole session, returns when it has ended.
  void attachSession(const PerfAttachOptions& opts);
  // run --engine perf: launches run.file; one ptrace stop, at its exec (opts.pid unused).
  void runSession(const RunOptions& run, const PerfAttachOptions& opts);

  // Any thread.
  void grant(uint32_t credits);
  void requestDetach();

 private:
  struct Pending {
    int32_t nr = -1;
    uint64_t args[6] = {};
    uint64_t entry_ns = 0;
    std::string blob;
    bool blob_failed = false;
    bool hidden = false;  // a quiet rule matched: never reported
  };

  void configure(const PerfAttachOptions& opts);
  bool openEvents(pid_t pid);
  bool isExec(int32_t nr) const;
  void emitExec(uint32_t tid, pid_t former, uint64_t time);
  uint32_t reapTarget();
  void reportExit(uint32_t status);
  bool stopAtExec(int& st, bool& reaped);
  bool snapshotStoppedWorld(pid_t pid);
  bool exitedWhileAttaching();
  void loop();
  void process(uint64_t before);
  void handle(PerfItem& it);
  void onEnter(const PerfItem& it);
  void onExit(const PerfItem& it);
  void noteExitStatus(const PerfItem& it);
  pid_t execFrom(int32_t nr) const;
  void onNewTask(const PerfItem& it);
  void onProcessExit(const PerfItem& it);
  void queueResync();
  bool targetGone() const;

  void emitSyscall(uint32_t tid, const Pending& p, int64_t ret, uint16_t flags, uint64_t time);
  void emitMaps(uint64_t time, const std::string& maps, const std::string& regs, bool resync);
  void emitError(int err, wire::ErrorSite site, pid_t pid, const std::string& detail);
  void deliverBatch(std::vector<uint8_t>&& batch, uint32_t count);

  BatchTransport& transport_;
  OverflowPolicy policy_;
  BatchWriter writer_;
  PerfEvents events_;
  std::vector<PerfEventSpec> specs_;
  uint32_t pages_ = 256;
  QuietRules quiet_;
  pid_t target_ = 0;
  uint32_t arch_ = 0;
  uint64_t snap_ns_ = 0;      // the stopped-world moment: earlier records are in the snapshot
  bool target_exited_ = false;
  bool run_mode_ = false;     // the target is our child: its exit status comes from waitpid
  uint64_t exec_ns_ = 0;      // run: the exec stop; the child's calls before it are its own set-up
  bool resync_due_ = false;
  bool maybe_lost_ = false;   // a ring filled up: resync once the target is quiet
  std::vector<PerfItem> pending_items_;
  std::unordered_map<uint32_t, Pending> pending_;   // by tid: an entry waiting for its exit
  std::set<pid_t> born_;      // tids created after the events were opened
  std::set<pid_t> covered_;   // tids opened directly that inheritance covers too: their own events duplicate
  std::unordered_map<uint32_t, uint32_t> exit_status_;  // by tid: the status its exit call asked for
  bool group_status_known_ = false;
  uint32_t group_status_ = 0;

  int wake_fd_ = -1;  // eventfd: requestDetach() ends the reader's poll
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t credits_ = 0;
  std::atomic<bool> detach_requested_{false};

  static constexpr int kPollMs = 10;  // records below a ring's watermark are read at least this often
};

}  // namespace liveprobe
