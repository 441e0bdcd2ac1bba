// The ptrace engine. One Tracer per session; every method except the ones
// marked "any thread" runs on the session's dedicated tracer thread, because
// ptrace belongs to the thread that attached (docs/ordering-and-races.md).
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
#include "quiet_rules.h"
#include "read_rules.h"

namespace liveprobe {

// The kernel's MAX_ERRNO (include/linux/err.h): a return value in [-4095, -1]
// is an error, any other a result. lib/syscalls/abi.ts has the same number;
// the addon's layout() exports this one and test/wire.test.ts compares them.
constexpr int64_t kMaxErrno = 4095;
inline bool isErrorReturn(int64_t rval) { return rval < 0 && rval >= -kMaxErrno; }

struct RunOptions {
  std::string file;               // absolute path, resolved by the caller
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // KEY=VALUE
  std::string cwd;                // empty: inherit
  int stdio[3] = {0, 1, 2};       // fds the child gets as 0, 1, 2
  bool no_aslr = false;           // personality(ADDR_NO_RANDOMIZE)
  bool follow_forks = false;
  bool trace_all = true;          // false: only trace_nrs stop (seccomp) and are reported
  std::vector<int32_t> trace_nrs;
  ReadRules reads;                // tracee memory to copy for some calls
  QuietRules quiet;               // runtime noise: not stopped (seccomp) or not reported
};

struct AttachOptions {
  pid_t pid = 0;
  bool follow_forks = false;
  bool trace_all = true;          // false: only trace_nrs are reported (every syscall still stops)
  std::vector<int32_t> trace_nrs;
  ReadRules reads;
  QuietRules quiet;               // runtime noise: not reported
};

enum class OverflowPolicy { kBlock, kDrop };

// Receives finished batches on the tracer thread. Implemented by the addon.
class BatchTransport {
 public:
  virtual ~BatchTransport() = default;
  virtual void send(std::vector<uint8_t>&& batch) = 0;
};

class Tracer {
 public:
  Tracer(BatchTransport& transport, OverflowPolicy policy);
  ~Tracer();

  // Tracer thread: the whole session, returns when it has ended.
  void runSession(const RunOptions& opts);
  void attachSession(const AttachOptions& opts);

  // Any thread.
  void grant(uint32_t credits);
  // Any thread: the consumer is done with the last held exit_group stop.
  void releaseHeld();
  void requestDetach();
  // Any thread: the environment is going away. run: kill the target; attach: detach.
  void requestShutdown();

 private:
  enum class State : uint8_t { kRunning, kStopped, kListening };
  enum class Phase : uint8_t { kAttaching, kTracing, kDetaching };

  struct Pending {
    int32_t nr = -1;
    uint32_t arch = 0;
    uint16_t flags = 0;
    uint64_t args[6] = {};
    uint64_t entry_ns = 0;
    std::string data;   // clone_args, exec path or an entry read
    std::string data2;  // exec argv and envp entries, clone3's set_tid, or a successful exit's read
    uint16_t data_flags = 0;
    uint32_t count = 0;  // execve's envp entries, clone3's set_tid bytes (data_flags has kFlagHasCount)
    bool count_unterminated = false;  // the array became unreadable before its NULL
    bool hidden = false;  // a quiet rule matched: never reported
  };

  struct Task {
    pid_t tid = 0;
    pid_t tgid = 0;
    State state = State::kRunning;
    int inject_sig = 0;         // signal to deliver when resumed
    bool group_stop = false;    // resume with PTRACE_LISTEN
    bool in_syscall = false;    // entry seen, exit not yet
    bool pre_exec = false;      // run: our child before its execve
    bool awaiting_parent = false;  // stopped before its parent's clone event
    pid_t parent_tgid = 0;         // awaiting_parent: the process that made it
    int joined_stop_sig = 0;       // awaiting_parent: its first stop was a group-stop (it
                                   // was born into one), reported after its thread-start
    bool release_on_stop = false;  // not ours to follow (a fork without -f)
    bool quiet = false;            // traced only to serve its seccomp stops; nothing reported
    Pending pending;
  };

  // Session steps.
  bool startWakeChild();
  void stopWakeChild();
  bool spawnTarget(const RunOptions& opts);
  bool seizeAll(pid_t pid);
  void eventLoop();
  pid_t waitForStop(int& st);
  void handleWaitStatus(pid_t tid, int status);
  void onSyscallStop(Task& t);
  void onSeccompStop(Task& t);
  void beginSyscall(Task& t, int32_t nr, const uint64_t* args, uint32_t arch, uint16_t flags);
  void finishSyscall(Task& t, int64_t rval);
  void readAtExit(Task& t, int64_t rval);
  void onCloneEvent(Task& t, int event);
  void reportJoinedGroupStop(Task& c);
  void onExecEvent(Task& t);
  void onSignalDeliveryStop(Task& t, int sig);
  pid_t ownNamespaceTgid(pid_t tgid);
  void onTaskGone(pid_t tid, int status);
  void afterStop(Task& t);
  bool tracesProcess(pid_t tgid) const;
  void adoptOrphan(Task& t);
  void resume(Task& t);
  void beginDetach();
  pid_t waitWhileDetaching(int& st);
  bool dropTasksNotTracedHere();
  void releaseTask(Task& t);
  void waitForDetachedTarget();

  // Records.
  void emitSyscall(const Task& t, const Pending& p, int64_t ret, uint16_t extra_flags);
  void emitSnapshot(pid_t pid, const std::string& regs = std::string());
  void emitError(int err, wire::ErrorSite site, pid_t pid, const std::string& detail);
  void deliverBatch(std::vector<uint8_t>&& batch, uint32_t count);
  void holdForConsumer();

  Task& addTask(pid_t tid, pid_t tgid);
  void setTraceSet(bool all, const std::vector<int32_t>& nrs);
  bool reports(int32_t nr) const {
    return report_all_ || (nr >= 0 && size_t(nr) < report_.size() && report_[size_t(nr)]);
  }
  bool isSyscall(int32_t nr, uint32_t arch, int which) const;

  BatchTransport& transport_;
  OverflowPolicy policy_;
  BatchWriter writer_;

  std::unordered_map<pid_t, Task> tasks_;
  std::set<pid_t> released_;     // detached by releaseTask: never tracked again
  Phase phase_ = Phase::kTracing;
  bool run_mode_ = false;
  bool follow_forks_ = false;
  pid_t target_pid_ = 0;       // run: the child we forked; attach: the pid
  bool target_exited_ = false;
  bool leader_untraced_ = false;  // attach: the leader was already a zombie, not seizable
  int exec_err_fd_ = -1;       // run: the child writes errno here if execve fails
  std::string exec_path_;
  // run + filter: a detach cannot remove the seccomp filter, and without a
  // tracer each filtered syscall would fail with ENOSYS. So "detach" there
  // means: stop reporting, keep serving the stops until the target exits.
  bool silenced_ = false;
  bool filtering_ = false;     // run with a seccomp filter: resume with PTRACE_CONT between traced calls
  bool report_all_ = true;
  std::vector<bool> report_;
  ReadRules reads_;
  QuietRules quiet_;
  // Each traced process's pid in its own pid namespace (si_pid of a signal
  // it sent itself), read once: see ownNamespaceTgid.
  std::unordered_map<pid_t, pid_t> own_ns_tgid_;

  // waitForStop's polling before it blocks (see there).
  static constexpr uint64_t kSpinBurstNs = 200000;  // stops are coming close together
  static constexpr uint64_t kSpinExitNs = 30000;    // a resumed call's exit stop is due
  static constexpr uint32_t kQuickWaitsForBurst = 4;
  // Under a seccomp filter a short cluster (a Go preemption: 3-4 stops) is
  // not a stream; only a longer run of quick waits is (see waitForStop).
  static constexpr uint32_t kQuickWaitsForBurstFiltered = 16;
  uint32_t quick_waits_ = 0;  // waits in a row that ended within kSpinBurstNs
  bool spin_allowed_ = true;  // more than one CPU to run on
  bool resumed_into_exit_ = false;

  // Wake-up: a forked helper child that exits when requestDetach() writes to
  // its pipe, so a tracer blocked in waitpid() returns without polling.
  pid_t wake_pid_ = -1;
  int wake_fd_ = -1;

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t credits_ = 0;
  uint64_t held_releases_ = 0;  // release() calls not yet matched by a hold
  bool last_batch_sent_ = false;  // tracer thread: the last flush reached the consumer (not dropped)
  // A consumer that never answers must not keep a thread from exiting.
  static constexpr uint64_t kHoldLimitMs = 10000;
  std::atomic<bool> detach_requested_{false};
  std::atomic<bool> shutdown_requested_{false};
};

}  // namespace liveprobe
