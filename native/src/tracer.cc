#include "tracer.h"

#include "proc_tasks.h"

#include <dirent.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "seccomp_filter.h"
#include "spawn.h"
#include "syscall_numbers.h"
#include "tracee_memory.h"

namespace liveprobe {

namespace {

// A pause between polls: lets a sibling hyperthread run, uses less power.
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

constexpr int kWaitFlags = __WALL | __WNOTHREAD;  // never reap Node's own children
// How long the attach waits for progress before it stops waiting for tasks
// that sit in uninterruptible sleep.
constexpr uint64_t kStopTheWorldPatienceNs = 20'000'000;
constexpr unsigned long kBaseOptions =
    PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD;

bool isStopSignal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

// The value of one "Key:\tvalue" line of /proc/TID/status; false if the
// task is gone or the line is missing.
bool statusField(pid_t tid, const char* key, std::string& value) {
  std::string status;
  if (!proc::readWhole("/proc/" + std::to_string(tid) + "/status", status)) return false;
  const std::string tag = std::string("\n") + key + ":";
  auto at = status.find(tag);
  if (at == std::string::npos) return false;
  auto from = at + tag.size();
  auto end = status.find('\n', from);
  value = status.substr(from, end == std::string::npos ? std::string::npos : end - from);
  return true;
}

pid_t ppidOf(pid_t tid) {
  std::string v;
  return statusField(tid, "PPid", v) ? pid_t(std::strtol(v.c_str(), nullptr, 10)) : 0;
}

pid_t tgidOf(pid_t tid) {
  std::string v;
  return statusField(tid, "Tgid", v) ? pid_t(std::strtol(v.c_str(), nullptr, 10)) : tid;
}

// The process's pid in its innermost pid namespace (the last of NStgid),
// which is how the kernel writes si_pid for a signal it sends itself; the
// same as tgid unless it lives in a container. tgid if unreadable.
pid_t tgidInOwnNamespace(pid_t tgid) {
  std::string v;
  if (!statusField(tgid, "NStgid", v)) return tgid;
  auto last = v.find_last_of(" \t");
  pid_t ns = pid_t(std::strtol(v.c_str() + (last == std::string::npos ? 0 : last + 1), nullptr, 10));
  return ns > 0 ? ns : tgid;
}

// A task in uninterruptible sleep ('D'): a vfork parent waiting for its
// child's exec or exit, a thread in D-state I/O. No ptrace stop reaches it
// until it leaves the kernel.
bool inUninterruptibleSleep(pid_t tgid, pid_t tid) {
  std::string stat;
  if (!proc::readWhole("/proc/" + std::to_string(tgid) + "/task/" + std::to_string(tid) + "/stat", stat))
    return false;
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'D';
}

void sleepMs(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1'000'000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// LIVEPROBE_DEBUG_NATIVE=1 logs every wait status: for debugging the state machine.
const bool kDebug = getenv("LIVEPROBE_DEBUG_NATIVE") != nullptr;
#define LP_DEBUG(...)                    \
  do {                                   \
    if (kDebug) {                        \
      fprintf(stderr, "[liveprobe] " __VA_ARGS__); \
      fputc('\n', stderr);               \
    }                                    \
  } while (0)

long ptraceCall(int req, pid_t tid, unsigned long addr, unsigned long data) {
  return ptrace(static_cast<__ptrace_request>(req), tid, reinterpret_cast<void*>(addr),
                reinterpret_cast<void*>(data));
}

}  // namespace

Tracer::Tracer(BatchTransport& transport, OverflowPolicy policy)
    : transport_(transport),
      policy_(policy),
      writer_([this](std::vector<uint8_t>&& b, uint32_t count) { deliverBatch(std::move(b), count); }) {}

void Tracer::setTraceSet(bool all, const std::vector<int32_t>& nrs) {
  report_all_ = all;
  report_.assign(1024, false);
  for (int32_t nr : nrs)
    if (nr >= 0 && size_t(nr) < report_.size()) report_[size_t(nr)] = true;
}

Tracer::~Tracer() {
  if (wake_fd_ >= 0) close(wake_fd_);
  if (exec_err_fd_ >= 0) close(exec_err_fd_);
}

// ---------------------------------------------------------------- any thread

void Tracer::grant(uint32_t credits) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    credits_ += credits;
  }
  cv_.notify_all();
}

void Tracer::releaseHeld() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++held_releases_;
  }
  cv_.notify_all();
}

void Tracer::requestDetach() {
  bool was;
  {
    // Under mu_: the waits in deliverBatch and holdForConsumer test the flag
    // under it, so a store between a test and its wait would be lost.
    std::lock_guard<std::mutex> lk(mu_);
    was = detach_requested_.exchange(true);
  }
  cv_.notify_all();
  if (!was && wake_fd_ >= 0) {
    char b = 1;
    ssize_t n;
    do n = write(wake_fd_, &b, 1);
    while (n < 0 && errno == EINTR);
  }
}

void Tracer::requestShutdown() {
  shutdown_requested_ = true;
  // run: a launched target dies with its tracer, as PTRACE_O_EXITKILL would do.
  if (run_mode_ && target_pid_ > 0 && !target_exited_) kill(target_pid_, SIGKILL);
  requestDetach();
}

// Credit window (docs/wire-format.md, "Credits and batching"): block the tracer, and so the tracees, until the
// consumer has taken a batch, unless we are leaving.
void Tracer::deliverBatch(std::vector<uint8_t>&& batch, uint32_t count) {
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (policy_ == OverflowPolicy::kBlock) {
      cv_.wait(lk, [this] { return credits_ > 0 || detach_requested_ || shutdown_requested_; });
    }
    if (credits_ > 0) {
      --credits_;
    } else if (policy_ == OverflowPolicy::kDrop && !detach_requested_ && count > 0) {
      lk.unlock();
      // The records are dropped and counted; the header's counts go on with the next batch.
      wire::BatchHeader h;
      std::memcpy(&h, batch.data(), sizeof h);
      writer_.addLost(count + h.lost);
      writer_.addHidden(h.hidden);
      writer_.addStops(h.stops);
      last_batch_sent_ = false;
      return;
    }
  }
  last_batch_sent_ = true;
  transport_.send(std::move(batch));
}

// The record just written carries kFlagHeld: send it now and keep its thread
// stopped until the consumer says it has read what it needs from /proc
// (release()), or the session is leaving. Nothing else runs on this thread
// meanwhile, so the other tracees wait at their next stop too.
void Tracer::holdForConsumer() {
  writer_.flush();
  if (!last_batch_sent_) return;  // dropped ('drop' mode): nobody will answer
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(kHoldLimitMs),
               [this] { return held_releases_ > 0 || detach_requested_ || shutdown_requested_; });
  if (held_releases_ > 0) --held_releases_;
}

// ---------------------------------------------------------------- wake child

bool Tracer::startWakeChild() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    // Async-signal-safe only. Block every signal: the helper shares the
    // terminal's process group, and a Ctrl-C or a kill(-pgid) that killed it
    // would leave the tracer with no way to be woken for a detach.
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    // Drop every inherited fd so we never hold a pipe of Node's (a
    // child_process's stdout would never see EOF).
    int rd = fds[0];
    if (rd != 3) {
      dup2(rd, 3);
      rd = 3;
    }
    syscall(SYS_close_range, 4u, ~0u, 0u);
    close(0);
    close(1);
    close(2);
    char b;
    ssize_t n;
    do n = read(rd, &b, 1);
    while (n < 0 && errno == EINTR);
    _exit(0);
  }
  close(fds[0]);
  wake_fd_ = fds[1];
  wake_pid_ = pid;
  return true;
}

void Tracer::stopWakeChild() {
  if (wake_pid_ > 0) {
    kill(wake_pid_, SIGKILL);
    int st;
    while (waitpid(wake_pid_, &st, kWaitFlags) < 0 && errno == EINTR) {
    }
    wake_pid_ = -1;
  }
}

// ---------------------------------------------------------------- records

void Tracer::emitError(int err, wire::ErrorSite site, pid_t pid, const std::string& detail) {
  wire::Record& r = writer_.add(wire::Kind::kError, uint32_t(pid), uint32_t(pid));
  r.a = uint32_t(err);
  r.b = uint32_t(site);
  r.data_off = writer_.addData(detail);  // touches the data area only: r stays valid
  r.data_len = uint32_t(detail.size());
}

void Tracer::emitSyscall(const Task& t, const Pending& p, int64_t ret, uint16_t extra_flags) {
  if (t.quiet || silenced_ || p.hidden || !reports(p.nr)) return;
  wire::Record& r = writer_.add(wire::Kind::kSyscall, uint32_t(t.tgid), uint32_t(t.tid));
  r.nr = p.nr;
  r.arch = p.arch;
  r.flags = uint16_t(p.flags | p.data_flags | extra_flags);
  std::memcpy(r.args, p.args, sizeof r.args);
  r.ret = ret;
  r.entry_ns = p.entry_ns;
  if (p.data_flags & wire::kFlagHasCount) {
    r.a = p.count;
    r.b = p.count_unterminated ? 1 : 0;
  }
  if (!p.data.empty()) {
    r.data_off = writer_.addData(p.data);
    r.data_len = uint32_t(p.data.size());
  }
  if (!p.data2.empty()) {
    r.data2_off = writer_.addData(p.data2);
    r.data2_len = uint32_t(p.data2.size());
  }
}

void Tracer::emitSnapshot(pid_t pid, const std::string& regs) {
  std::string maps;
  if (!proc::readWhole("/proc/" + std::to_string(pid) + "/maps", maps)) return;
  wire::Record& r = writer_.add(wire::Kind::kSnapshot, uint32_t(pid), uint32_t(pid));
  r.data_off = writer_.addData(maps);
  r.data_len = uint32_t(maps.size());
  if (!regs.empty()) {
    r.data2_off = writer_.addData(regs);
    r.data2_len = uint32_t(regs.size());
  }
}

// ---------------------------------------------------------------- tasks

Tracer::Task& Tracer::addTask(pid_t tid, pid_t tgid) {
  Task& t = tasks_[tid];
  t.tid = tid;
  t.tgid = tgid;
  return t;
}

bool Tracer::isSyscall(int32_t nr, uint32_t arch, int which) const {
  return nr == nr::lookup(arch, nr::Which(which));
}

void Tracer::resume(Task& t) {
  long rc;
  if (t.group_stop) {
    // Keep the group-stop visible (ps shows T) while still getting events.
    rc = ptraceCall(PTRACE_LISTEN, t.tid, 0, 0);
    t.state = State::kListening;
  } else {
    // Filtered: run freely until the next seccomp stop, except inside a
    // traced call, whose exit stop carries the return value.
    int op = filtering_ && !t.in_syscall ? PTRACE_CONT : PTRACE_SYSCALL;
    rc = ptraceCall(op, t.tid, 0, unsigned(t.inject_sig));
    t.state = State::kRunning;
    if (t.in_syscall) resumed_into_exit_ = true;
  }
  // ESRCH: killed while stopped (exit_group, SIGKILL); its death comes via wait.
  (void)rc;
  t.inject_sig = 0;
  t.group_stop = false;
}

void Tracer::releaseTask(Task& t) {
  // A pending signal is passed on, so detaching never swallows one.
  ptraceCall(PTRACE_DETACH, t.tid, 0, unsigned(t.group_stop ? 0 : t.inject_sig));
  if (phase_ == Phase::kDetaching) released_.insert(t.tid);
  tasks_.erase(t.tid);
}

void Tracer::afterStop(Task& t) {
  if (phase_ == Phase::kDetaching || t.release_on_stop) {
    releaseTask(t);
  } else if (phase_ == Phase::kAttaching || t.awaiting_parent) {
    // Held: the world is being stopped, or the parent's clone event is due.
  } else {
    resume(t);
  }
}

// ---------------------------------------------------------------- run

bool Tracer::spawnTarget(const RunOptions& opts) {
  std::vector<sock_filter> filter;
  if (filtering_) filter = buildSeccompFilter(opts.trace_nrs, opts.quiet.calls());
  HeldChild child = spawnHeld(opts, filtering_ ? &filter : nullptr);
  if (child.pid < 0) {
    emitError(child.err, wire::ErrorSite::kFork, 0, child.what);
    return false;
  }
  pid_t pid = child.pid;
  exec_err_fd_ = child.error_fd;
  target_pid_ = pid;
  exec_path_ = opts.file;

  // Seize before exec, with EXITKILL: the target never runs untraced and
  // never outlives a dead tracer in a stopped state.
  unsigned long options = kBaseOptions | PTRACE_O_EXITKILL;
  // The filter is inherited by every child: a child nobody traces would get
  // ENOSYS for each filtered syscall, so with a filter we trace them all and
  // keep the ones not followed quiet (docs/ordering-and-races.md, "The
  // seccomp filter outlives the tracer").
  if (follow_forks_ || filtering_) options |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
  if (filtering_) options |= PTRACE_O_TRACESECCOMP;
  if (ptraceCall(PTRACE_SEIZE, pid, 0, options) != 0) {
    int e = errno;
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, kWaitFlags);
    close(child.release_fd);
    emitError(e, wire::ErrorSite::kSeize, pid, "ptrace(PTRACE_SEIZE)");
    return false;
  }
  // Stop it once so that syscall stops are armed before it reaches execve.
  ptraceCall(PTRACE_INTERRUPT, pid, 0, 0);
  int st;
  while (waitpid(pid, &st, kWaitFlags) < 0 && errno == EINTR) {
  }
  Task& t = addTask(pid, pid);
  t.pre_exec = true;
  t.state = State::kStopped;
  releaseChild(child);
  if (!WIFSTOPPED(st)) {
    onTaskGone(pid, st);
    return true;
  }
  // A signal that raced with the interrupt (a terminal's Ctrl-C) is kept.
  if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP) t.inject_sig = WSTOPSIG(st);
  resume(t);
  return true;
}

void Tracer::runSession(const RunOptions& opts) {
  run_mode_ = true;
  follow_forks_ = opts.follow_forks;
  // The BPF program compares one number per instruction with 8-bit jumps.
  filtering_ = !opts.trace_all && opts.trace_nrs.size() <= 200;
  setTraceSet(opts.trace_all, opts.trace_nrs);
  reads_ = opts.reads;
  quiet_ = opts.quiet;
  phase_ = Phase::kTracing;
  if (!startWakeChild()) {
    emitError(errno, wire::ErrorSite::kInternal, 0, "could not start the wake-up helper");
  } else if (spawnTarget(opts)) {
    eventLoop();
    if (phase_ == Phase::kDetaching && !target_exited_) waitForDetachedTarget();
  }
  stopWakeChild();
  writer_.flush(true);
}

// After a detach in run mode the target is still our child: wait for it so
// that it is reaped and its exit status reported.
void Tracer::waitForDetachedTarget() {
  writer_.flush();
  int st;
  for (;;) {
    // Any of our tasks: one dropped while it could not stop (a vfork parent)
    // stops here later, at our interrupt, and is released then.
    pid_t w = waitpid(-1, &st, kWaitFlags);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return;
    if (w == wake_pid_) {
      wake_pid_ = -1;
      continue;
    }
    if (w != target_pid_) {
      if (WIFSTOPPED(st)) ptraceCall(PTRACE_DETACH, w, 0, 0);
      continue;
    }
    if (WIFSTOPPED(st)) {
      ptraceCall(PTRACE_DETACH, w, 0, 0);
      continue;
    }
    if (WIFEXITED(st) || WIFSIGNALED(st)) break;
  }
  target_exited_ = true;
  wire::Record& r = writer_.add(wire::Kind::kExit, uint32_t(target_pid_), uint32_t(target_pid_));
  r.a = uint32_t(st);
}

// ---------------------------------------------------------------- attach

bool Tracer::seizeAll(pid_t pid) {
  unsigned long options = kBaseOptions;
  if (follow_forks_) options |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
  std::set<pid_t> seen;
  // Threads may be created while we seize: re-scan until a pass finds no new
  // one (pdig, GDB). Threads made by an already seized thread are attached by
  // the kernel through PTRACE_O_TRACECLONE.
  for (int pass = 0; pass < 1000; ++pass) {
    std::vector<pid_t> tids = proc::listTasks(pid);
    if (tids.empty() && pass == 0) {
      emitError(ESRCH, wire::ErrorSite::kSeize, pid, "no such process");
      return false;
    }
    bool found = false;
    for (pid_t tid : tids) {
      if (!seen.insert(tid).second || tasks_.count(tid)) continue;
      long seized = ptraceCall(PTRACE_SEIZE, tid, 0, options);
      int err = seized == 0 ? 0 : errno;  // before /proc reads below change errno
      LP_DEBUG("seize tid=%d rc=%ld errno=%d", tid, seized, err);
      if (seized == 0) {
        Task& t = addTask(tid, pid);
        t.state = State::kRunning;
        found = true;
        wire::Record& r = writer_.add(wire::Kind::kThreadStart, uint32_t(pid), uint32_t(tid));
        r.b = uint32_t(wire::StartEvent::kAttach);
      } else if (err == ESRCH) {
        continue;  // the thread exited meanwhile
      } else if (err == EPERM && proc::taskExiting(pid, tid)) {
        // The kernel refuses to seize a task that has exited or is exiting
        // (proc_tasks.h taskExiting). A leader that called pthread_exit stays listed as a zombie
        // while its threads run on: trace those; the process exit is then
        // reported with the last thread's status (onTaskGone).
        if (tid == pid) leader_untraced_ = true;
        continue;
      } else if (tasks_.empty()) {
        emitError(err, wire::ErrorSite::kSeize, pid, "ptrace(PTRACE_SEIZE)");
        return false;
      }
    }
    if (!found) break;
  }
  if (tasks_.empty()) {
    emitError(ESRCH, wire::ErrorSite::kSeize, pid, "no such process");
    return false;
  }
  return true;
}

void Tracer::attachSession(const AttachOptions& opts) {
  run_mode_ = false;
  follow_forks_ = opts.follow_forks;
  setTraceSet(opts.trace_all, opts.trace_nrs);
  reads_ = opts.reads;
  quiet_ = opts.quiet;
  target_pid_ = opts.pid;
  if (!startWakeChild()) {
    emitError(errno, wire::ErrorSite::kInternal, 0, "could not start the wake-up helper");
    writer_.flush(true);
    return;
  }
  phase_ = Phase::kAttaching;
  if (!seizeAll(opts.pid)) {
    // Release whatever was seized before the failure.
    for (auto& [tid, t] : tasks_) ptraceCall(PTRACE_DETACH, tid, 0, 0);
    tasks_.clear();
    stopWakeChild();
    writer_.flush(true);
    return;
  }
  for (auto& [tid, t] : tasks_) ptraceCall(PTRACE_INTERRUPT, tid, 0, 0);
  // Stop the world: every task must report a stop before the maps are read.
  // Except a task in uninterruptible sleep (a vfork parent whose child has
  // not exec'd yet): it stops only when it leaves the kernel, which may be
  // never (a stopped vfork child), and holding every other thread stopped
  // until then would freeze the process. It runs no user code and makes no
  // syscall meanwhile, so the snapshot stays exact; its interrupt stop comes
  // later and is resumed like any other.
  uint64_t quiet_since = monotonicNs();
  for (;;) {
    std::vector<pid_t> waiting;
    for (auto& [tid, t] : tasks_)
      if (t.state != State::kStopped) waiting.push_back(tid);
    if (waiting.empty() || tasks_.empty() || detach_requested_) break;
    int st;
    pid_t w = waitpid(-1, &st, kWaitFlags | WNOHANG);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (w == 0) {
      if (monotonicNs() - quiet_since >= kStopTheWorldPatienceNs) {
        bool all_in_kernel = true;
        for (pid_t tid : waiting)
          if (!inUninterruptibleSleep(tasks_[tid].tgid, tid)) all_in_kernel = false;
        if (all_in_kernel) {
          for (pid_t tid : waiting) LP_DEBUG("attach: tid=%d is in uninterruptible sleep; not waited for", tid);
          break;
        }
      }
      sleepMs(1);
      continue;
    }
    quiet_since = monotonicNs();
    if (w == wake_pid_) {
      wake_pid_ = -1;
      continue;
    }
    handleWaitStatus(w, st);
  }
  if (!tasks_.empty() && !detach_requested_) {
    // Every thread is stopped: where each one's stack pointer and pc are now
    // tells threads made before the attach apart (a pthread stack, the Go
    // heap, the main stack). {u32 tid, u32 0, u64 sp, u64 ip} per thread.
    std::string regs;
    for (auto& [tid, t] : tasks_) {
      if (t.state != State::kStopped) continue;
      __ptrace_syscall_info info;
      std::memset(&info, 0, sizeof info);
      if (ptraceCall(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, reinterpret_cast<unsigned long>(&info)) <= 0) continue;
      uint32_t head[2] = {uint32_t(tid), 0};
      uint64_t sp = info.stack_pointer, ip = info.instruction_pointer;
      regs.append(reinterpret_cast<const char*>(head), sizeof head);
      regs.append(reinterpret_cast<const char*>(&sp), sizeof sp);
      regs.append(reinterpret_cast<const char*>(&ip), sizeof ip);
    }
    emitSnapshot(opts.pid, regs);
    wire::Record& r = writer_.add(wire::Kind::kStarted, uint32_t(opts.pid), uint32_t(opts.pid));
    r.a = uint32_t(tasks_.size());
  }
  phase_ = Phase::kTracing;
  std::vector<pid_t> held;
  for (auto& [tid, t] : tasks_)
    if (t.state == State::kStopped && !t.awaiting_parent) held.push_back(tid);
  for (pid_t tid : held) resume(tasks_[tid]);
  eventLoop();
  stopWakeChild();
  writer_.flush(true);
}

// ---------------------------------------------------------------- event loop

void Tracer::eventLoop() {
  // Polling for a stop only helps when the tracee can run meanwhile: not if
  // this thread may use a single CPU (the tracees' affinity is theirs, but
  // this is the common case of a pinned tracer).
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  spin_allowed_ = sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 1;
  bool detach_started = false;
  while (!tasks_.empty()) {
    if (detach_requested_ && !detach_started) {
      detach_started = true;
      if (filtering_ && !shutdown_requested_) {
        silenced_ = true;
        wire::Record& r = writer_.add(wire::Kind::kDetached, uint32_t(target_pid_), uint32_t(target_pid_));
        r.a = 1;  // still serving seccomp stops until the target exits
        writer_.flush();
      } else {
        beginDetach();
        if (tasks_.empty()) break;
      }
    }
    int st;
    pid_t w;
    if (phase_ == Phase::kDetaching) {
      w = waitWhileDetaching(st);
      if (w == 0) continue;  // tasks that will never stop for us were dropped
    } else {
      w = waitForStop(st);
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) break;
      emitError(errno, wire::ErrorSite::kWait, 0, "waitpid");
      break;
    }
    if (w == wake_pid_) {
      wake_pid_ = -1;  // reaped; requestDetach() set the flag before waking us
      continue;
    }
    handleWaitStatus(w, st);
  }
  if (phase_ == Phase::kDetaching) {
    writer_.add(wire::Kind::kDetached, uint32_t(target_pid_), uint32_t(target_pid_));
  }
}

// The next stop, or -1 with errno. A stopped tracee waits for us, and on a
// busy machine waking a tracer blocked in waitpid costs the tracee more than
// the stop itself: the tracer must be scheduled onto a CPU the workload
// holds. So poll for a moment before blocking, when a stop is likely soon:
// while stops keep coming close together (a few quick waits in a row: every
// syscall stops, under load), or when a call we just resumed is likely to
// return at once (its exit stop). A target whose stops are far apart pays at
// most one short poll after a resume. Under a seccomp filter, stops come
// alone or in short clusters far apart (a Go preemption's signal; with
// --preemption also its tgkill's two stops), so such a burst is over when
// it is noticed and polling after it only takes CPU from the target: there
// a burst takes more quick waits in a row, so that a filtered set that does
// stop all the time (-e trace=read,write on an I/O-bound target) still
// polls. bench/overhead measures the effect.
pid_t Tracer::waitForStop(int& st) {
  const uint64_t start = monotonicNs();
  pid_t w = waitpid(-1, &st, kWaitFlags | WNOHANG);
  if (w == 0 && spin_allowed_) {
    const uint32_t burst = filtering_ ? kQuickWaitsForBurstFiltered : kQuickWaitsForBurst;
    uint64_t window = quick_waits_ >= burst ? kSpinBurstNs : resumed_into_exit_ ? kSpinExitNs : 0;
    while (w == 0 && monotonicNs() - start < window) {
      cpuRelax();
      w = waitpid(-1, &st, kWaitFlags | WNOHANG);
    }
  }
  resumed_into_exit_ = false;
  if (w == 0) {
    // Flush before sleeping, so the consumer sees events while the target
    // is quiet. (Holding them back for fewer, larger batches was tried and
    // cost more latency than it saved: README, Performance.)
    writer_.flush();
    w = waitpid(-1, &st, kWaitFlags);
  }
  // One clock read per stop for both: after a block the writer is empty, never due.
  const uint64_t now = monotonicNs();
  if (w > 0 && writer_.due(now)) writer_.flush();
  quick_waits_ = now - start < kSpinBurstNs ? quick_waits_ + 1 : 0;
  return w;
}

// While detaching, never block for good. Every task we still hold stops or
// dies soon after our PTRACE_INTERRUPT; one that is no longer traced by this
// thread (released already, or gone) never reports again and must not keep
// the session open: a detach that hangs is the worst outcome (Ctrl-C does
// nothing). So poll, and every 100 ms drop the tasks /proc says are not ours.
pid_t Tracer::waitWhileDetaching(int& st) {
  writer_.flush();
  for (int i = 1;; ++i) {
    pid_t w = waitpid(-1, &st, kWaitFlags | WNOHANG);
    if (w != 0) return w;
    if (i % 100 == 0 && dropTasksNotTracedHere()) return 0;
    sleepMs(1);
  }
}

// Also drops, once every task left is in uninterruptible sleep (a vfork
// parent), those tasks: PTRACE_DETACH needs a stopped tracee, and waiting for
// the vfork to end could take forever. The kernel releases them when this
// thread exits (attach: right after the session; no EXITKILL), and
// waitForDetachedTarget releases their late stops in run.
bool Tracer::dropTasksNotTracedHere() {
  const pid_t self = pid_t(syscall(SYS_gettid));  // TracerPid names the tracer thread
  std::vector<pid_t> drop;
  bool all_in_kernel = true;
  for (const auto& [tid, t] : tasks_) {
    std::string v;
    pid_t tracer = statusField(tid, "TracerPid", v) ? pid_t(std::strtol(v.c_str(), nullptr, 10)) : 0;  // 0: gone
    if (tracer != self) {
      drop.push_back(tid);
    } else if (!inUninterruptibleSleep(t.tgid, tid)) {
      all_in_kernel = false;
    }
  }
  if (all_in_kernel) {
    for (const auto& [tid, t] : tasks_)
      if (std::find(drop.begin(), drop.end(), tid) == drop.end()) {
        LP_DEBUG("detach: tid=%d is in uninterruptible sleep; released when the tracer thread exits", tid);
        drop.push_back(tid);
      }
  }
  for (pid_t tid : drop) {
    LP_DEBUG("detach: tid=%d dropped", tid);
    tasks_.erase(tid);
  }
  return !drop.empty();
}

void Tracer::beginDetach() {
  LP_DEBUG("detach: %zu tasks", tasks_.size());
  phase_ = Phase::kDetaching;
  std::vector<pid_t> tids;
  for (auto& [tid, t] : tasks_) tids.push_back(tid);
  // Interrupt all first, then release each as it stops: detaching one by one
  // can deadlock a vfork parent waiting on its traced child (strace#277).
  for (pid_t tid : tids) {
    Task& t = tasks_[tid];
    if (t.state == State::kStopped) {
      releaseTask(t);
    } else if (proc::taskExited(t.tgid, tid)) {
      // A leader that exited before its threads never stops again; the
      // kernel hands it back to its parent when this thread stops tracing.
      tasks_.erase(tid);
    } else {
      // ESRCH: dying; its exit is still to be reaped through wait.
      ptraceCall(PTRACE_INTERRUPT, tid, 0, 0);
    }
  }
}

void Tracer::handleWaitStatus(pid_t tid, int status) {
  LP_DEBUG("wait tid=%d status=0x%x phase=%d known=%d", tid, status, int(phase_), int(tasks_.count(tid)));
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    onTaskGone(tid, status);
    return;
  }
  if (!WIFSTOPPED(status)) return;
  writer_.addStops(1);
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) {
    // A new child's first stop can come before its parent's clone event;
    // hold it until then so its thread-start precedes its own syscalls.
    pid_t tgid = tgidOf(tid);
    Task& t = addTask(tid, tgid);
    t.state = State::kStopped;
    t.awaiting_parent = true;
    t.parent_tgid = tgid != tid ? tgid : ppidOf(tid);
    // Born while its process is stopping (a SIGSTOP in progress): the kernel
    // makes it join the group-stop, and its first stop is that group-stop,
    // SIGSTOP rather than SIGTRAP (docs/ordering-and-races.md, "a thread born
    // into a group-stop"). Resuming it as a plain first stop would let it run
    // while its process is stopped, and no group-stop would be reported for it.
    if ((status >> 16) == PTRACE_EVENT_STOP && isStopSignal(WSTOPSIG(status))) {
      t.group_stop = true;
      t.joined_stop_sig = WSTOPSIG(status);
    }
    if (phase_ == Phase::kDetaching) {
      releaseTask(t);
    } else if (!tracesProcess(t.parent_tgid)) {
      adoptOrphan(t);  // its creator is gone already: no event will come
    }
    return;
  }
  Task& t = it->second;
  // A task re-trapping from PTRACE_LISTEN with a stop signal after our
  // interrupt at detach is still in the same group-stop: not reported again.
  // Otherwise the re-trap is a new group-stop (a SIGCONT ended the last one
  // and a SIGSTOP began another before this task ran; docs/ordering-and-
  // races.md, "Group-stops"), reported like the first.
  bool was_listening = t.state == State::kListening && phase_ == Phase::kDetaching;
  t.state = State::kStopped;
  int sig = WSTOPSIG(status);
  int event = status >> 16;
  if (sig == (SIGTRAP | 0x80)) {
    onSyscallStop(t);
  } else if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK ||
             event == PTRACE_EVENT_VFORK) {
    onCloneEvent(t, event);
  } else if (event == PTRACE_EVENT_EXEC) {
    onExecEvent(t);
    return;  // onExecEvent may have re-keyed the task
  } else if (event == PTRACE_EVENT_SECCOMP) {
    onSeccompStop(t);
  } else if (event == PTRACE_EVENT_STOP) {
    if (isStopSignal(sig)) {
      t.group_stop = true;
      if (!was_listening && !t.pre_exec && !t.quiet && !silenced_) {
        wire::Record& r = writer_.add(wire::Kind::kSignal, uint32_t(t.tgid), uint32_t(t.tid));
        r.a = uint32_t(sig);
        r.flags = wire::kFlagGroupStop;
      }
    }
    // else: PTRACE_INTERRUPT stop or a new child's first stop: nothing to report.
  } else if (event == 0) {
    onSignalDeliveryStop(t, sig);
  }
  auto again = tasks_.find(tid);
  if (again != tasks_.end()) afterStop(again->second);
}

pid_t Tracer::ownNamespaceTgid(pid_t tgid) {
  auto it = own_ns_tgid_.find(tgid);
  if (it != own_ns_tgid_.end()) return it->second;
  pid_t ns = tgidInOwnNamespace(tgid);
  own_ns_tgid_.emplace(tgid, ns);
  return ns;
}

void Tracer::onSignalDeliveryStop(Task& t, int sig) {
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  if (ptraceCall(PTRACE_GETSIGINFO, t.tid, 0, reinterpret_cast<unsigned long>(&si)) != 0) {
    if (errno == ESRCH) return;
  }
  t.inject_sig = sig;  // re-injected at resume: Go's SIGURG preemption depends on it
  if (t.pre_exec || t.quiet || silenced_) return;
  // Sent by the process to its own thread (Go's preemption: tgkill(getpid(),
  // tid, SIGURG)); a kill from outside is SI_USER and always reported.
  if (si.si_code == SI_TKILL && quiet_.hidesSelfSignal(sig) && pid_t(si.si_pid) == ownNamespaceTgid(t.tgid)) {
    writer_.addHidden(1);
    return;
  }
  wire::Record& r = writer_.add(wire::Kind::kSignal, uint32_t(t.tgid), uint32_t(t.tid));
  r.a = uint32_t(sig);
  r.b = uint32_t(si.si_code);
  r.args[0] = uint64_t(uint32_t(si.si_pid));
  r.args[1] = uint64_t(uint32_t(si.si_uid));
  r.args[2] = uint64_t(reinterpret_cast<uintptr_t>(si.si_addr));
}

void Tracer::onSyscallStop(Task& t) {
  __ptrace_syscall_info info;
  std::memset(&info, 0, sizeof info);
  long n = ptraceCall(PTRACE_GET_SYSCALL_INFO, t.tid, sizeof info,
                      reinterpret_cast<unsigned long>(&info));
  if (n <= 0) return;  // ESRCH: gone; its death comes through wait
  switch (info.op) {
    case PTRACE_SYSCALL_INFO_ENTRY:
      beginSyscall(t, int32_t(info.entry.nr), reinterpret_cast<const uint64_t*>(info.entry.args),
                   info.arch, 0);
      break;
    case PTRACE_SYSCALL_INFO_EXIT:
      if (!t.in_syscall) {
        // First stop after attach can be an exit: we never saw the entry.
        t.pending = Pending{};
        t.pending.arch = info.arch;
        t.pending.flags = wire::kFlagNoEntry;
#if defined(__x86_64__)
        errno = 0;
        long orig = ptraceCall(PTRACE_PEEKUSER, t.tid, 15 * 8 /* ORIG_RAX */, 0);
        if (errno == 0) t.pending.nr = int32_t(orig);
#endif
        t.pending.entry_ns = 0;
        t.in_syscall = true;
      }
      finishSyscall(t, info.exit.rval);
      break;
    case PTRACE_SYSCALL_INFO_SECCOMP:
      beginSyscall(t, int32_t(info.seccomp.nr), reinterpret_cast<const uint64_t*>(info.seccomp.args),
                   info.arch, wire::kFlagSeccomp);
      break;
    default:
      break;
  }
}

void Tracer::onSeccompStop(Task& t) {
  // The seccomp stop stands for the entry; resume with PTRACE_SYSCALL to get
  // the exit stop and the return value (docs/ordering-and-races.md,
  // "Seccomp stops stand for the entry").
  onSyscallStop(t);
}

void Tracer::beginSyscall(Task& t, int32_t nr, const uint64_t* args, uint32_t arch,
                          uint16_t flags) {
  if (t.in_syscall && !t.pre_exec) {
    // Two entries in a row: the exit of the first was never reported.
    emitSyscall(t, t.pending, 0, wire::kFlagUnfinished);
  }
  Pending& p = t.pending;
  p.nr = nr;
  p.arch = arch;
  p.flags = flags;
  std::memcpy(p.args, args, sizeof p.args);
  p.entry_ns = monotonicNs();
  p.data.clear();
  p.data2.clear();
  p.data_flags = 0;
  p.count = 0;
  p.count_unterminated = false;
  p.hidden = quiet_.hidesCall(arch, nr, args);
  t.in_syscall = true;

  if (isSyscall(nr, arch, nr::kClone3)) {
    // struct clone_args and the tail past it that the size argument claims
    // (strace prints its non-zero bytes): the size is the tracee's claim, so
    // we copy at most a page and record how much was readable.
    uint64_t size = args[1];
    size_t want = size < wire::kCloneArgsMax ? size_t(size) : wire::kCloneArgsMax;
    if (want > 0) {
      char buf[wire::kCloneArgsMax];
      ssize_t got = readTraceeMemory(t.tid, args[0], buf, want);
      if (got > 0) p.data.assign(buf, size_t(got));
      if (got != ssize_t(want)) p.data_flags |= wire::kFlagReadFailed;
    }
    // The set_tid array (u64 set_tid at offset 64, u64 set_tid_size at 72 in
    // linux/sched.h's clone_args): its ints at the head of data2, their byte
    // count in a; the kernel takes at most kSetTidMax.
    uint64_t set_tid = 0, set_tid_size = 0;
    if (p.data.size() >= 80) {
      std::memcpy(&set_tid, p.data.data() + 64, 8);
      std::memcpy(&set_tid_size, p.data.data() + 72, 8);
    }
    if (set_tid != 0 && set_tid_size != 0) {
      int32_t tids[wire::kSetTidMax];
      size_t n = set_tid_size < wire::kSetTidMax ? size_t(set_tid_size) : wire::kSetTidMax;
      ssize_t got = readTraceeMemory(t.tid, set_tid, tids, n * sizeof tids[0]);
      size_t whole = got > 0 ? size_t(got) / sizeof tids[0] * sizeof tids[0] : 0;
      p.data2.assign(reinterpret_cast<const char*>(tids), whole);
      p.count = uint32_t(whole);
      p.data_flags |= wire::kFlagHasCount;
    }
  } else if (isSyscall(nr, arch, nr::kExecve) || isSyscall(nr, arch, nr::kExecveat)) {
    bool is_at = isSyscall(nr, arch, nr::kExecveat);
    uint64_t path = is_at ? args[1] : args[0];
    uint64_t argvp = is_at ? args[2] : args[1];
    uint64_t envp = is_at ? args[3] : args[2];
    bool cut = false;
    if (!readTraceeString(t.tid, path, wire::kPathMax, p.data, cut)) p.data_flags |= wire::kFlagReadFailed;
    // argv, then envp, as array entries: strace prints what is readable of
    // both (envp's strings under -v), unreadable elements as pointers.
    bool whole = readTraceePointerArray(t.tid, argvp, wire::kArgvMaxCount, wire::kArgvMaxBytes, p.data2);
    whole = readTraceePointerArray(t.tid, envp, wire::kEnvpMaxStrings, wire::kEnvpMaxBytes, p.data2) && whole;
    if (cut || !whole) p.data_flags |= wire::kFlagDataTrunc;
    bool cut3 = false;
    // strace prints the number of variables (", unterminated" when the array
    // became unreadable first), counted further than the strings are copied.
    if (envp != 0) {
      bool terminated = countTraceePointers(t.tid, envp, wire::kEnvpMaxCount, p.count, cut3);
      if (terminated || p.count > 0) p.data_flags |= wire::kFlagHasCount;
      p.count_unterminated = !terminated;
      if (cut3) p.data_flags |= wire::kFlagDataTrunc;
    }
  } else if (isSyscall(nr, arch, nr::kExit) || isSyscall(nr, arch, nr::kExitGroup)) {
    // Never returns: report it now. exit_group's entry is the last moment
    // the address space is whole (the kernel tears the mm down in do_exit,
    // after this stop): hold it for the consumer's final look at /proc.
    if (!t.pre_exec) {
      bool hold = isSyscall(nr, arch, nr::kExitGroup) && phase_ == Phase::kTracing && !t.quiet &&
                  !silenced_ && !p.hidden && reports(nr);
      emitSyscall(t, p, 0, hold ? wire::kFlagHeld : 0);
      if (hold) holdForConsumer();
    }
    t.in_syscall = false;
  } else if (reads_.wants(nr) && reports(nr) && !p.hidden) {
    bool failed = false;
    reads_.read(t.tid, arch, nr, args, false, p.data, failed);
    if (failed) p.data_flags |= wire::kFlagReadFailed;
  }
}

void Tracer::finishSyscall(Task& t, int64_t rval) {
  if (!t.in_syscall) return;
  t.in_syscall = false;
  bool is_exec = isSyscall(t.pending.nr, t.pending.arch, nr::kExecve) ||
                 isSyscall(t.pending.nr, t.pending.arch, nr::kExecveat);
  if (t.pre_exec && !is_exec) return;  // our own child's set-up, not the target's
  if (t.pre_exec && rval < 0) return;  // reported as a spawn error at its exit
  if (isSyscall(t.pending.nr, t.pending.arch, nr::kMmap) && int32_t(t.pending.args[4]) >= 0) {
    // The file behind the fd, now, while the fd is certain to exist: the
    // model names file-backed regions as /proc/PID/maps does, and -y prints
    // it after the fd, for a failed call too (as strace does).
    char link[4096];
    std::string fdpath = "/proc/" + std::to_string(t.tid) + "/fd/" + std::to_string(int32_t(t.pending.args[4]));
    ssize_t n = readlink(fdpath.c_str(), link, sizeof link);
    if (n > 0) t.pending.data.assign(link, size_t(n));
  }
  if (!isErrorReturn(rval)) readAtExit(t, rval);
  emitSyscall(t, t.pending, rval, wire::kFlagHasReturn);
}

// What the kernel wrote for a call that succeeded: the rules' reads, and
// clone3's pidfd, whose address is inside struct clone_args.
void Tracer::readAtExit(Task& t, int64_t rval) {
  Pending& p = t.pending;
  if (!reports(p.nr)) return;
  bool failed = false;
  if (isSyscall(p.nr, p.arch, nr::kClone3)) {
    if (rval <= 0) return;  // the pidfd is the parent's
    constexpr uint64_t kClonePidfd = 0x1000;  // linux/sched.h; older libc headers lack it
    uint64_t flags = 0, pidfd = 0;
    if (p.data.size() < 16) return;
    std::memcpy(&flags, p.data.data(), 8);
    std::memcpy(&pidfd, p.data.data() + 8, 8);
    if (!(flags & kClonePidfd) || pidfd == 0) return;
    int32_t fd = -1;
    if (readTraceeMemory(t.tid, pidfd, &fd, sizeof fd) == ssize_t(sizeof fd))
      p.data2.append(reinterpret_cast<const char*>(&fd), sizeof fd);  // after set_tid's ints
    else
      failed = true;
  } else if (reads_.wants(p.nr)) {
    reads_.read(t.tid, p.arch, p.nr, p.args, true, p.data2, failed);
  }
  if (failed) p.data_flags |= wire::kFlagReadFailed;
}

void Tracer::onCloneEvent(Task& t, int event) {
  unsigned long msg = 0;
  if (ptraceCall(PTRACE_GETEVENTMSG, t.tid, 0, reinterpret_cast<unsigned long>(&msg)) != 0) return;
  pid_t child = pid_t(msg);
  // A thread or a new process? clone's flags say it; read them from the
  // pending entry when we saw it, else ask /proc.
  pid_t child_tgid;
  if (event != PTRACE_EVENT_CLONE) {
    child_tgid = child;
  } else {
    uint64_t flags = 0;
    bool known = false;
    if (t.in_syscall && isSyscall(t.pending.nr, t.pending.arch, nr::kClone)) {
      flags = t.pending.args[0];
      known = true;
    } else if (t.in_syscall && isSyscall(t.pending.nr, t.pending.arch, nr::kClone3) &&
               t.pending.data.size() >= 8) {
      std::memcpy(&flags, t.pending.data.data(), 8);
      known = true;
    }
    child_tgid = known ? ((flags & CLONE_THREAD) ? t.tgid : child) : tgidOf(child);
  }
  bool ours = !t.quiet && (child_tgid == t.tgid || follow_forks_);
  // Not ours: released at its first stop, unless a seccomp filter makes it
  // need a tracer; then it stays traced but quiet.
  bool quiet = !ours && filtering_;
  if (!t.quiet && !silenced_) {
    wire::Record& r = writer_.add(wire::Kind::kThreadStart, uint32_t(child_tgid), uint32_t(child));
    r.a = uint32_t(t.tid);
    r.b = uint32_t(event == PTRACE_EVENT_CLONE ? wire::StartEvent::kClone
                   : event == PTRACE_EVENT_FORK ? wire::StartEvent::kFork
                                                : wire::StartEvent::kVfork);
    r.args[0] = ours ? 1 : 0;
    // The call that made it: the event is CLONE for clone and clone3 alike.
    if (t.in_syscall) {
      r.args[1] = uint64_t(uint32_t(t.pending.nr));
      r.args[2] = 1;
      r.arch = t.pending.arch;
    }
  }
  auto it = tasks_.find(child);
  if (it == tasks_.end() && phase_ == Phase::kDetaching && released_.count(child)) {
    // Its first stop came before this event and we already let it go:
    // tracking it again would wait for a stop that never comes.
    return;
  }
  Task* c;
  if (it == tasks_.end()) {
    c = &addTask(child, child_tgid);
    c->state = State::kRunning;  // its first stop is still to come
  } else {
    c = &it->second;
    c->tgid = child_tgid;
    c->awaiting_parent = false;
  }
  c->quiet = quiet;
  c->release_on_stop = !ours && !quiet;
  reportJoinedGroupStop(*c);
  if (c->state == State::kStopped && phase_ != Phase::kAttaching) afterStop(*c);
}

// After its thread-start, so a consumer knows the thread its stop belongs to.
void Tracer::reportJoinedGroupStop(Task& c) {
  int sig = c.joined_stop_sig;
  c.joined_stop_sig = 0;
  if (sig == 0 || c.quiet || c.release_on_stop || silenced_) return;
  wire::Record& r = writer_.add(wire::Kind::kSignal, uint32_t(c.tgid), uint32_t(c.tid));
  r.a = uint32_t(sig);
  r.flags = wire::kFlagGroupStop;
}

void Tracer::onExecEvent(Task& t) {
  unsigned long former = 0;
  ptraceCall(PTRACE_GETEVENTMSG, t.tid, 0, reinterpret_cast<unsigned long>(&former));
  pid_t tid = t.tid;
  pid_t tgid = t.tgid;
  if (former != 0 && pid_t(former) != tid) {
    // A non-leader exec'd: it now has the leader's tid and the old leader
    // vanished without an exit report (docs/ordering-and-races.md, "exec from
    // a non-leader thread").
    auto it = tasks_.find(pid_t(former));
    if (it != tasks_.end()) {
      Task moved = it->second;
      tasks_.erase(it);
      moved.tid = tid;
      tasks_[tid] = moved;
    }
  }
  Task& now = tasks_[tid];
  now.tid = tid;
  now.tgid = tgid;
  now.state = State::kStopped;
  bool was_pre_exec = now.pre_exec;
  now.pre_exec = false;
  if (was_pre_exec) {
    if (exec_err_fd_ >= 0) {
      close(exec_err_fd_);
      exec_err_fd_ = -1;
    }
  }
  if (now.quiet || silenced_) {
    afterStop(now);
    return;
  }
  std::string exe;
  char buf[4096];
  ssize_t n = readlink(("/proc/" + std::to_string(tid) + "/exe").c_str(), buf, sizeof buf);
  if (n > 0) exe.assign(buf, size_t(n));
  wire::Record& r = writer_.add(wire::Kind::kExec, uint32_t(tgid), uint32_t(tid));
  r.a = uint32_t(former);
  r.data_off = writer_.addData(exe);
  r.data_len = uint32_t(exe.size());
  // Every other thread is gone and this one is stopped: the new image's maps
  // are exact now.
  emitSnapshot(tid);
  if (was_pre_exec) {
    wire::Record& s = writer_.add(wire::Kind::kStarted, uint32_t(tgid), uint32_t(tid));
    s.a = 1;
  }
  afterStop(now);
}

void Tracer::onTaskGone(pid_t tid, int status) {
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) {
    if (tid == target_pid_ && run_mode_) target_exited_ = true;
    return;
  }
  Task& t = it->second;
  if (t.pre_exec) {
    // Our child died before its execve succeeded: tell why.
    int payload[2] = {0, 0};
    if (exec_err_fd_ >= 0) {
      ssize_t n = read(exec_err_fd_, payload, sizeof payload);
      if (n != sizeof payload) payload[0] = 0;
    }
    if (payload[0] != 0) {
      emitError(payload[0], wire::ErrorSite(payload[1]), tid, exec_path_);
    } else {
      emitError(ECHILD, wire::ErrorSite::kExec, tid, "the target died before its execve");
    }
  } else if (!t.quiet && !silenced_) {
    if (t.in_syscall) emitSyscall(t, t.pending, 0, wire::kFlagUnfinished);
    wire::Record& r = writer_.add(wire::Kind::kThreadExit, uint32_t(t.tgid), uint32_t(tid));
    r.a = uint32_t(status);
  }
  // The target's own exit is always reported: session.exited waits for it.
  bool last_of_untraced_leader = false;
  if (leader_untraced_ && t.tgid == target_pid_) {
    last_of_untraced_leader = true;
    for (const auto& [other, o] : tasks_)
      if (other != tid && o.tgid == t.tgid) last_of_untraced_leader = false;
  }
  if (last_of_untraced_leader || (tid == t.tgid && (!(t.quiet || silenced_) || tid == target_pid_))) {
    // The leader's status is reported last (a zombie leader waits for its
    // threads), so this is the process's exit.
    wire::Record& r = writer_.add(wire::Kind::kExit, uint32_t(t.tgid), uint32_t(tid));
    r.a = uint32_t(status);
    if (tid == target_pid_ || last_of_untraced_leader) target_exited_ = true;
  }
  pid_t gone_tgid = t.tgid;
  tasks_.erase(tid);
  // Children held for a clone event from this process get none if it died
  // first (a SIGKILL skips the event stop).
  if (!tracesProcess(gone_tgid)) {
    own_ns_tgid_.erase(gone_tgid);
    std::vector<pid_t> orphans;
    for (const auto& [other, o] : tasks_)
      if (o.awaiting_parent && o.parent_tgid == gone_tgid) orphans.push_back(other);
    for (pid_t o : orphans) {
      auto at = tasks_.find(o);
      if (at != tasks_.end()) adoptOrphan(at->second);
    }
  }
}

bool Tracer::tracesProcess(pid_t tgid) const {
  for (const auto& [tid, t] : tasks_)
    if (t.tgid == tgid && !t.awaiting_parent) return true;
  return false;
}

// A child whose creator died before reporting the clone event: nothing else
// would ever resume it, and it would stay stopped for good. Decide without
// the event: a thread of a traced process is ours, a new process is ours
// with --follow-forks; else quiet (seccomp filter) or released.
void Tracer::adoptOrphan(Task& t) {
  LP_DEBUG("tid=%d: its creator (pid %d) died before the clone event", t.tid, t.parent_tgid);
  t.awaiting_parent = false;
  bool thread = t.tgid != t.tid;
  bool ours = thread ? tracesProcess(t.tgid) : follow_forks_;
  t.quiet = !ours && filtering_;
  t.release_on_stop = !ours && !t.quiet;
  if (!t.quiet && !silenced_) {
    wire::Record& r = writer_.add(wire::Kind::kThreadStart, uint32_t(t.tgid), uint32_t(t.tid));
    r.a = 0;  // the parent thread is not known
    r.b = uint32_t(thread ? wire::StartEvent::kClone : wire::StartEvent::kFork);
    r.args[0] = ours ? 1 : 0;
  }
  reportJoinedGroupStop(t);
  if (t.state == State::kStopped && phase_ != Phase::kAttaching) afterStop(t);
}

}  // namespace liveprobe
