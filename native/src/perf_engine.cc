#include "perf_engine.h"

#include "proc_tasks.h"

#include <dirent.h>
#include <linux/audit.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "spawn.h"
#include "syscall_numbers.h"

namespace liveprobe {

namespace {

using nr::kHostArch;

// include/uapi/linux/sched.h
constexpr uint64_t kCloneVfork = 0x4000;
constexpr uint64_t kCloneThread = 0x10000;
// struct clone_args: exit_signal at byte 32 (include/uapi/linux/sched.h).
constexpr size_t kCloneArgsExitSignal = 32;

// How long the snapshot waits for every thread to stop before it goes on
// without the ones that do not (a thread in uninterruptible sleep stops only
// when it leaves the kernel; it makes no call meanwhile).
constexpr uint64_t kStopPatienceNs = 200'000'000;

std::string readLink(const std::string& path, bool& ok) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  ok = n > 0;
  return ok ? std::string(buf, size_t(n)) : std::string();
}

// The file of the mapping that contains addr, from /proc/PID/maps ("" if
// anonymous or gone): the process runs on, so its mmap's fd may already be
// closed (a loader closes it at once), while the mapping usually remains.
std::string fileOfMapping(pid_t pid, uint64_t addr) {
  std::string maps;
  if (!proc::readWhole("/proc/" + std::to_string(pid) + "/maps", maps)) return std::string();
  std::istringstream in(maps);
  std::string line;
  while (std::getline(in, line)) {
    char* end = nullptr;
    uint64_t lo = std::strtoull(line.c_str(), &end, 16);
    if (!end || *end != '-') continue;
    uint64_t hi = std::strtoull(end + 1, nullptr, 16);
    if (addr < lo || addr >= hi) continue;
    size_t slash = line.find(" /");
    return slash == std::string::npos ? std::string() : line.substr(slash + 1);
  }
  return std::string();
}

// Field 52 of /proc/PID/stat, exit_code: the wait status (proc(5)); fallback if unreadable.
uint32_t zombieStatus(pid_t pid, uint32_t fallback) {
  std::string s;
  if (!proc::readWhole("/proc/" + std::to_string(pid) + "/stat", s)) return fallback;
  size_t p = s.rfind(')');
  if (p == std::string::npos) return fallback;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  for (int i = 3; i <= 52 && in >> field; ++i)
    if (i == 52) return uint32_t(std::strtoul(field.c_str(), nullptr, 10));
  return fallback;
}

long ptraceCall(int req, pid_t tid, unsigned long addr, unsigned long data) {
  return ptrace(static_cast<__ptrace_request>(req), tid, reinterpret_cast<void*>(addr),
                reinterpret_cast<void*>(data));
}

}  // namespace

PerfEngine::PerfEngine(BatchTransport& transport, OverflowPolicy policy)
    : transport_(transport),
      policy_(policy),
      writer_([this](std::vector<uint8_t>&& b, uint32_t count) { deliverBatch(std::move(b), count); }) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

PerfEngine::~PerfEngine() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

void PerfEngine::grant(uint32_t credits) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    credits_ += credits;
  }
  cv_.notify_all();
}

void PerfEngine::requestDetach() {
  {
    // Under mu_: deliverBatch tests the flag under it before it waits, so a
    // store between its test and its wait would be a lost wake-up.
    std::lock_guard<std::mutex> lk(mu_);
    detach_requested_ = true;
  }
  cv_.notify_all();
  uint64_t one = 1;
  if (wake_fd_ >= 0 && write(wake_fd_, &one, sizeof one) < 0) {
    // the reader polls every kPollMs anyway
  }
}

// The credit window of docs/wire-format.md: with no credit the reader waits,
// and the kernel counts what its rings cannot hold meanwhile (PERF_RECORD_LOST:
// nothing here can pause the target); 'drop' drops whole batches as the
// ptrace engine does.
void PerfEngine::deliverBatch(std::vector<uint8_t>&& batch, uint32_t count) {
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (policy_ == OverflowPolicy::kBlock)
      cv_.wait(lk, [this] { return credits_ > 0 || detach_requested_; });
    if (credits_ > 0) {
      --credits_;
    } else if (policy_ == OverflowPolicy::kDrop && !detach_requested_ && count > 0) {
      // flush() has reset the writer's counts into this header: carry them
      // on to the next batch with the dropped records.
      wire::BatchHeader h;
      std::memcpy(&h, batch.data(), sizeof h);
      writer_.addLost(count + h.lost);
      writer_.addHidden(h.hidden);
      writer_.addStops(h.stops);
      return;
    }
  }
  transport_.send(std::move(batch));
}

void PerfEngine::emitError(int err, wire::ErrorSite site, pid_t pid, const std::string& detail) {
  wire::Record& r = writer_.add(wire::Kind::kError, uint32_t(pid), uint32_t(pid));
  r.a = uint32_t(err);
  r.b = uint32_t(site);
  r.data_off = writer_.addData(detail);
  r.data_len = uint32_t(detail.size());
}

void PerfEngine::emitSyscall(uint32_t tid, const Pending& p, int64_t ret, uint16_t flags, uint64_t time) {
  if (p.hidden) return;
  wire::Record& r = writer_.add(wire::Kind::kSyscall, uint32_t(target_), tid);
  r.time_ns = time;
  r.nr = p.nr;
  r.arch = arch_;
  r.flags = flags;
  std::memcpy(r.args, p.args, sizeof r.args);
  r.ret = ret;
  r.entry_ns = p.entry_ns;
  if (p.blob_failed) r.flags |= wire::kFlagReadFailed;
  if (!p.blob.empty()) {
    r.data_off = writer_.addData(p.blob);
    r.data_len = uint32_t(p.blob.size());
  }
}

void PerfEngine::emitMaps(uint64_t time, const std::string& maps, const std::string& regs, bool resync) {
  wire::Record& r = writer_.add(wire::Kind::kSnapshot, uint32_t(target_), uint32_t(target_));
  if (time) r.time_ns = time;
  r.a = resync ? 1 : 0;
  r.data_off = writer_.addData(maps);
  r.data_len = uint32_t(maps.size());
  if (!regs.empty()) {
    r.data2_off = writer_.addData(regs);
    r.data2_len = uint32_t(regs.size());
  }
}

// ---------------------------------------------------------------- session

void PerfEngine::configure(const PerfAttachOptions& opts) {
  specs_ = opts.events;
  pages_ = opts.pages;
  quiet_ = opts.quiet;
  arch_ = kHostArch;
}

void PerfEngine::attachSession(const PerfAttachOptions& opts) {
  configure(opts);
  target_ = opts.pid;
  // Events first, then the snapshot: a call made between the two is in the
  // rings, and the ones older than the snapshot are dropped by time, so
  // nothing falls between (docs/perf-engine.md, "The snapshot").
  if (openEvents(opts.pid) && snapshotStoppedWorld(opts.pid)) loop();
  events_.disable();
  writer_.flush(true);
  events_.closeInBackground();
}

// The child waits before its execve while its events are opened: its one
// thread now, every thread it makes by inheritance, so its first call after
// the release is already recorded. ptrace's one use is the exec: seized
// before the release with PTRACE_O_TRACEEXEC only, the child stops once, in
// its execve, with the new image whole (maps, exe) and nothing else running;
// then it is let go for good. An execve that failed comes back through the
// error pipe, as with the ptrace engine. docs/perf-engine.md, "run --engine perf".
void PerfEngine::runSession(const RunOptions& run, const PerfAttachOptions& opts) {
  configure(opts);
  run_mode_ = true;
  HeldChild child = spawnHeld(run, nullptr);
  if (child.pid < 0) {
    emitError(child.err, wire::ErrorSite::kFork, 0, child.what);
    writer_.flush(true);
    return;
  }
  target_ = child.pid;
  // EXITKILL: a tracer that dies before the exec stop takes the child with it.
  bool seized = ptraceCall(PTRACE_SEIZE, child.pid, 0, PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL) == 0;
  if (!seized) emitError(errno, wire::ErrorSite::kSeize, child.pid, "ptrace(PTRACE_SEIZE)");
  bool opened = seized && openEvents(child.pid);
  snap_ns_ = monotonicNs();
  if (!opened) kill(child.pid, SIGKILL);
  releaseChild(child);
  int st = 0;
  bool reaped = false;
  bool execd = opened && stopAtExec(st, reaped);
  if (!execd) {
    int payload[2] = {0, 0};
    ssize_t n;
    do n = read(child.error_fd, payload, sizeof payload);
    while (n < 0 && errno == EINTR);
    if (n == ssize_t(sizeof payload))
      emitError(payload[0], wire::ErrorSite(payload[1]), child.pid, run.file);
    else if (opened)
      emitError(ECHILD, wire::ErrorSite::kExec, child.pid, "the target died before its execve");
    reportExit(reaped ? uint32_t(st) : reapTarget());
  }
  close(child.error_fd);
  if (execd) loop();
  events_.disable();
  writer_.flush();
  events_.closeInBackground();
  // Detached from a target that runs on: it is still our child, to be reaped
  // and its exit reported before the session's last batch.
  if (!target_exited_) reportExit(reapTarget());
  writer_.flush(true);
}

// Waits for the seized child's exec stop: there, its exe and maps, the exec
// and started records, and the detach. false when it died first (st: how;
// reaped: waitpid has collected it).
bool PerfEngine::stopAtExec(int& st, bool& reaped) {
  for (;;) {
    pid_t w = waitpid(target_, &st, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      reaped = true;
      return false;
    }
    if (!WIFSTOPPED(st)) continue;
    int event = st >> 16;
    if (event == PTRACE_EVENT_STOP) {
      // A group-stop (SIGSTOP, a terminal's Ctrl-Z) before the exec: it stays
      // stopped, as untraced, until a SIGCONT.
      ptraceCall(PTRACE_LISTEN, target_, 0, 0);
      continue;
    }
    if (event != PTRACE_EVENT_EXEC) {
      // A signal on its way (a terminal's Ctrl-C) is delivered.
      ptraceCall(PTRACE_CONT, target_, 0, event == 0 ? unsigned(WSTOPSIG(st)) : 0);
      continue;
    }
    // The execve's own calls before this moment are the child's set-up.
    exec_ns_ = monotonicNs();
    emitExec(uint32_t(target_), target_, 0);
    wire::Record& s = writer_.add(wire::Kind::kStarted, uint32_t(target_), uint32_t(target_));
    s.a = 1;
    writer_.addStops(1);
    ptraceCall(PTRACE_DETACH, target_, 0, 0);
    writer_.flush();
    return true;
  }
}

// The exec record and the new image's maps, read now (time 0: the writer's now).
void PerfEngine::emitExec(uint32_t tid, pid_t former, uint64_t time) {
  bool have;
  std::string exe = readLink("/proc/" + std::to_string(target_) + "/exe", have);
  wire::Record& r = writer_.add(wire::Kind::kExec, uint32_t(target_), tid);
  if (time) r.time_ns = time;
  r.a = uint32_t(former);
  r.data_off = writer_.addData(exe);
  r.data_len = uint32_t(exe.size());
  std::string maps;
  proc::readWhole("/proc/" + std::to_string(target_) + "/maps", maps);
  emitMaps(time, maps, std::string(), false);
}

// run: waits for our child to end and collects it; its exact wait status.
uint32_t PerfEngine::reapTarget() {
  int st = 0;
  while (waitpid(target_, &st, 0) < 0 && errno == EINTR) {
  }
  return uint32_t(st);
}

// run: the exit record with that status.
void PerfEngine::reportExit(uint32_t status) {
  target_exited_ = true;
  wire::Record& r = writer_.add(wire::Kind::kExit, uint32_t(target_), uint32_t(target_));
  r.a = status;
}

bool PerfEngine::isExec(int32_t call) const {
  return call == nr::lookup(arch_, nr::kExecve) || call == nr::lookup(arch_, nr::kExecveat);
}

bool PerfEngine::openEvents(pid_t pid) {
  // Threads may be created while the events are opened: re-scan until a
  // pass finds none new. A thread made by one whose events are open is
  // covered by inheritance (and by its own events if the scan saw it: see
  // covered_).
  for (int pass = 0; pass < 1000; ++pass) {
    std::vector<pid_t> tids = proc::listTasks(pid);
    if (tids.empty()) {
      emitError(ESRCH, wire::ErrorSite::kSeize, pid, "no such process");
      return false;
    }
    bool found = false;
    for (pid_t tid : tids) {
      if (events_.hasThread(tid)) continue;
      int err = events_.openThread(tid, specs_, pages_);
      if (err == ESRCH) continue;  // the thread exited meanwhile
      if (err != 0) {
        emitError(err, wire::ErrorSite::kPerf, pid, "perf_event_open");
        return false;
      }
      found = true;
    }
    if (!found) return true;
  }
  return true;
}

// Seize, interrupt, read the maps and each thread's sp and ip, detach: the
// same facts the ptrace engine's attach gives, at one moment. No other
// ptrace use: the target runs untraced from here on.
bool PerfEngine::snapshotStoppedWorld(pid_t pid) {
  constexpr int kWait = __WALL | __WNOTHREAD;
  std::unordered_map<pid_t, int> seized;  // tid → signal to re-inject at detach (-1: not stopped yet)
  for (int pass = 0; pass < 1000; ++pass) {
    bool found = false;
    for (pid_t tid : proc::listTasks(pid)) {
      if (seized.count(tid)) continue;
      if (ptraceCall(PTRACE_SEIZE, tid, 0, 0) != 0) {
        int err = errno;  // before /proc reads change it
        if (err == ESRCH || (err == EPERM && proc::taskExiting(pid, tid))) continue;
        if (seized.empty()) {
          emitError(err, wire::ErrorSite::kSeize, pid, "ptrace(PTRACE_SEIZE)");
          return false;
        }
        continue;
      }
      ptraceCall(PTRACE_INTERRUPT, tid, 0, 0);
      seized[tid] = -1;
      found = true;
    }
    if (!found) break;
  }
  if (seized.empty()) return exitedWhileAttaching();
  uint64_t since = monotonicNs();
  size_t stopped = 0;
  while (stopped < seized.size() && monotonicNs() - since < kStopPatienceNs) {
    int st;
    pid_t w = waitpid(-1, &st, kWait | WNOHANG);
    if (w == 0) {
      usleep(200);
      continue;
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = seized.find(w);
    if (it == seized.end()) continue;
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      if (it->second >= 0) --stopped;
      seized.erase(it);
      continue;
    }
    if (!WIFSTOPPED(st) || it->second >= 0) continue;
    // An interrupt or group-stop carries PTRACE_EVENT_STOP; anything else
    // is a signal about to be delivered: give it back at the detach.
    int sig = WSTOPSIG(st);
    bool event_stop = (st >> 16) == PTRACE_EVENT_STOP;
    it->second = event_stop ? 0 : sig;
    ++stopped;
  }
  snap_ns_ = monotonicNs();
  std::string regs;
  uint32_t threads = 0;
  for (auto& [tid, sig] : seized) {
    wire::Record& r = writer_.add(wire::Kind::kThreadStart, uint32_t(pid), uint32_t(tid));
    r.b = uint32_t(wire::StartEvent::kAttach);
    ++threads;
    if (sig < 0) continue;
    __ptrace_syscall_info info;
    std::memset(&info, 0, sizeof info);
    if (ptraceCall(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, reinterpret_cast<unsigned long>(&info)) <= 0) continue;
    uint32_t head[2] = {uint32_t(tid), 0};
    uint64_t sp = info.stack_pointer, ip = info.instruction_pointer;
    regs.append(reinterpret_cast<const char*>(head), sizeof head);
    regs.append(reinterpret_cast<const char*>(&sp), sizeof sp);
    regs.append(reinterpret_cast<const char*>(&ip), sizeof ip);
  }
  std::string maps;
  bool have_maps = proc::readWhole("/proc/" + std::to_string(pid) + "/maps", maps) && !maps.empty();
  // A zombie leader has no mm to show: read the maps through a live thread.
  for (auto it = seized.begin(); !have_maps && it != seized.end(); ++it)
    have_maps = proc::readWhole("/proc/" + std::to_string(pid) + "/task/" + std::to_string(it->first) + "/maps", maps) && !maps.empty();
  for (auto& [tid, sig] : seized) ptraceCall(PTRACE_DETACH, tid, 0, sig > 0 ? unsigned(sig) : 0);
  writer_.addStops(stopped);
  if (!have_maps) return exitedWhileAttaching();
  emitMaps(0, maps, regs, false);
  wire::Record& r = writer_.add(wire::Kind::kStarted, uint32_t(pid), uint32_t(pid));
  r.a = threads;
  writer_.flush();
  return true;
}

// The process exited after its events were opened and before the snapshot:
// its exit, with the status its exit_group asked for if the rings have it
// (the session then says it exited while liveprobe was attaching).
bool PerfEngine::exitedWhileAttaching() {
  events_.drain(pending_items_, specs_);
  for (const PerfItem& it : pending_items_) {
    if (it.kind != PerfItem::kSample || it.pid != uint32_t(target_)) continue;
    uint32_t role = specs_[it.event].role;
    if (role == PerfEventSpec::kSysEnter || role == PerfEventSpec::kRawEnter) noteExitStatus(it);
  }
  pending_items_.clear();
  wire::Record& r = writer_.add(wire::Kind::kExit, uint32_t(target_), uint32_t(target_));
  r.a = group_status_known_ ? group_status_ : zombieStatus(target_, 0);
  return false;
}

void PerfEngine::loop() {
  std::vector<pollfd> pfds;
  for (int fd : events_.ringFds()) pfds.push_back({fd, POLLIN, 0});
  pfds.push_back({wake_fd_, POLLIN, 0});
  uint64_t prev_round = snap_ns_;
  for (;;) {
    uint64_t round = monotonicNs();
    bool leaving = detach_requested_;
    size_t had = pending_items_.size();
    events_.drain(pending_items_, specs_);
    // A ring that filled up may have lost records it has not reported yet
    // (see takeFullSeen): once the target is quiet, re-read the maps.
    if (events_.takeFullSeen()) maybe_lost_ = true;
    if (maybe_lost_ && pending_items_.size() == had) {
      maybe_lost_ = false;
      resync_due_ = true;
    }
    // Each ring is in time order and times compare across CPUs; a record
    // not yet in a ring is at most as old as this round's start, so only
    // what is older than the previous round's start is safe to order now.
    process(leaving ? UINT64_MAX : prev_round);
    prev_round = round;
    if (target_exited_) {
      events_.drain(pending_items_, specs_);
      process(UINT64_MAX);
      return;
    }
    if (leaving) {
      events_.disable();
      wire::Record& r = writer_.add(wire::Kind::kDetached, uint32_t(target_), uint32_t(target_));
      r.a = 0;
      return;
    }
    if (resync_due_) queueResync();
    writer_.flush();  // before waiting: the consumer sees what happened
    int n = poll(pfds.data(), pfds.size(), kPollMs);
    if (n < 0 && errno != EINTR) return;
    if (pfds.back().revents & POLLIN) {
      uint64_t v;
      while (read(wake_fd_, &v, sizeof v) > 0) {
      }
    }
    bool hup = false;
    for (size_t i = 0; i + 1 < pfds.size(); ++i) {
      // The thread a ring's event was opened for has exited and no thread
      // inherited from it: it reports POLLHUP for good, while the other
      // events still write into its ring. Read it on the timeout from now on.
      if (pfds[i].revents & POLLHUP) {
        pfds[i].fd = -1;
        hup = true;
      }
    }
    if ((n == 0 || hup) && pending_items_.empty() && targetGone()) {
      // Gone without a sched_process_exit we could use (lost, or before the
      // snapshot's moment while the attach raced the exit): say so.
      events_.drain(pending_items_, specs_);
      process(UINT64_MAX);
      if (target_exited_) return;
      if (run_mode_) return reportExit(reapTarget());
      wire::Record& r = writer_.add(wire::Kind::kExit, uint32_t(target_), uint32_t(target_));
      r.a = group_status_known_ ? group_status_ : zombieStatus(target_, 0);
      target_exited_ = true;
      return;
    }
  }
}

// The process has exited: no such pid, or only its zombie leader is left.
bool PerfEngine::targetGone() const {
  if (kill(target_, 0) != 0 && errno == ESRCH) return true;
  return proc::listTasks(target_).size() <= 1 && proc::taskExited(target_, target_);
}

// Reads /proc/PID/maps now and places it in the stream at this moment:
// records older than it are applied first, newer ones on top.
void PerfEngine::queueResync() {
  resync_due_ = false;
  PerfItem item;
  item.kind = PerfItem::kResync;
  item.time = monotonicNs();
  if (!proc::readWhole("/proc/" + std::to_string(target_) + "/maps", item.blob)) return;
  pending_items_.push_back(std::move(item));
}

void PerfEngine::process(uint64_t before) {
  std::stable_sort(pending_items_.begin(), pending_items_.end(),
                   [](const PerfItem& a, const PerfItem& b) { return a.time < b.time; });
  size_t n = 0;
  while (n < pending_items_.size() && pending_items_[n].time < before) {
    handle(pending_items_[n]);
    ++n;
    if (writer_.due(monotonicNs())) writer_.flush();
  }
  pending_items_.erase(pending_items_.begin(), pending_items_.begin() + long(n));
}

void PerfEngine::handle(PerfItem& it) {
  if (it.kind == PerfItem::kLost) {
    if (it.time < snap_ns_) return;
    writer_.addLost(it.lost);
    resync_due_ = true;
    // Any waiting entry's exit may be among the lost, and the same call's
    // next exit would then pair with it: each is written unfinished now.
    for (auto& [tid, p] : pending_) emitSyscall(tid, p, 0, wire::kFlagUnfinished, it.time);
    pending_.clear();
    return;
  }
  if (it.kind == PerfItem::kResync) {
    emitMaps(it.time, it.blob, std::string(), true);
    return;
  }
  const PerfEventSpec& s = specs_[it.event];
  if (s.role == PerfEventSpec::kTaskNew) {
    onNewTask(it);
    return;
  }
  if (covered_.count(it.owner)) return;  // the same sample also came through inheritance
  if (it.pid != uint32_t(target_)) return;
  bool enter = s.role == PerfEventSpec::kSysEnter || s.role == PerfEventSpec::kRawEnter;
  bool exit = s.role == PerfEventSpec::kSysExit || s.role == PerfEventSpec::kRawExit;
  if (enter) noteExitStatus(it);  // an exit_group just before the snapshot still sets the status
  if (it.time < snap_ns_) return;
  if (it.time < exec_ns_ && (enter || exit) && !isExec(it.nr)) return;  // run: our child's own set-up
  if (enter) onEnter(it);
  else if (exit) onExit(it);
  else if (s.role == PerfEventSpec::kProcessExit) onProcessExit(it);
}

void PerfEngine::onEnter(const PerfItem& it) {
  const int32_t call = it.nr;
  Pending p;
  p.nr = call;
  std::memcpy(p.args, it.v, sizeof p.args);
  p.entry_ns = it.time;
  p.blob = it.blob;
  // execve's path and arrays are in the target's memory, which this engine
  // does not read: flagged so, they print as pointers (as strace's do when unreadable).
  p.blob_failed = it.blob_failed || isExec(call);
  p.hidden = quiet_.hidesCall(arch_, call, p.args);
  if (p.hidden) writer_.addHidden(1);
  auto old = pending_.find(it.tid);
  if (old != pending_.end()) {
    // Its exit was lost: the call is reported without a return.
    emitSyscall(it.tid, old->second, 0, wire::kFlagUnfinished, it.time);
    pending_.erase(old);
  }
  if (call == nr::lookup(arch_, nr::kExit) || call == nr::lookup(arch_, nr::kExitGroup)) {
    // They never return: written at the entry, as the ptrace engine does.
    emitSyscall(it.tid, p, 0, 0, it.time);
    return;
  }
  pending_[it.tid] = std::move(p);
}

// The wait status an exit or exit_group asks for: sched_process_exit has none.
void PerfEngine::noteExitStatus(const PerfItem& it) {
  bool group = it.nr == nr::lookup(arch_, nr::kExitGroup);
  if (!group && it.nr != nr::lookup(arch_, nr::kExit)) return;
  uint32_t status = uint32_t(it.v[0] & 0xff) << 8;
  if (group) {
    group_status_ = status;
    group_status_known_ = true;
  }
  exit_status_[it.tid] = status;
}

void PerfEngine::onExit(const PerfItem& it) {
  const int32_t call = it.nr;
  int64_t ret = int64_t(it.v[0]);
  // Only a new thread's first exit can be its return from its creator's clone.
  const bool first_of_new = born_.erase(pid_t(it.tid)) > 0;
  auto pit = pending_.find(it.tid);
  Pending p;
  pid_t former = pid_t(it.tid);
  uint16_t flags = wire::kFlagHasReturn;
  if (pit != pending_.end() && pit->second.nr == call) {
    p = std::move(pit->second);
    pending_.erase(pit);
  } else if (!isErrorReturn(ret) && isExec(call) &&
             execFrom(call) != 0) {
    // A thread other than the leader exec'd: it returns with the leader's
    // tid (kernel/exec.c de_thread), its entry is under its own.
    former = execFrom(call);
    p = std::move(pending_[uint32_t(former)]);
    pending_.erase(uint32_t(former));
  } else {
    if (pit != pending_.end()) {
      emitSyscall(it.tid, pit->second, 0, wire::kFlagUnfinished, it.time);
      pending_.erase(pit);
    }
    // A thread made after the attach starts in its creator's call and
    // returns from it without an entry: the ptrace engine sees no such stop.
    if (first_of_new) return;
    p.nr = call;
    flags |= wire::kFlagNoEntry;
  }
  bool ok = !isErrorReturn(ret);
  if (ok && call == nr::lookup(arch_, nr::kMmap) && int32_t(p.args[4]) >= 0 && !(flags & wire::kFlagNoEntry)) {
    // The file behind the fd, read now, after the call: from the mapping it
    // made if that is still there, else from the fd if that is still open
    // (docs/perf-engine.md, "Records").
    std::string path = fileOfMapping(target_, uint64_t(ret));
    bool have = !path.empty();
    if (!have) path = readLink("/proc/" + std::to_string(target_) + "/fd/" + std::to_string(int32_t(p.args[4])), have);
    p.blob = path;
    p.blob_failed = !have;
  }
  // run: the first exec was reported at its stop (stopAtExec).
  bool reported = !(flags & wire::kFlagNoEntry) && p.entry_ns < exec_ns_;
  if (ok && isExec(call) && !reported) emitExec(it.tid, former, it.time);
  emitSyscall(it.tid, p, ret, flags, it.time);
}

// The thread with a pending exec of this call, other than the leader; 0 if none.
pid_t PerfEngine::execFrom(int32_t nr) const {
  for (const auto& [tid, p] : pending_)
    if (p.nr == nr && pid_t(tid) != target_) return pid_t(tid);
  return 0;
}

void PerfEngine::onNewTask(const PerfItem& it) {
  pid_t child = pid_t(it.v[0]);
  uint64_t flags = it.v[1];
  // A thread whose events were opened by the scan and that its creator's
  // inherited events cover too: keep only the inherited copy.
  if (events_.hasThread(child)) covered_.insert(child);
  born_.insert(child);
  if (covered_.count(it.owner) || it.time < snap_ns_ || it.pid != uint32_t(target_)) return;
  bool thread = flags & kCloneThread;
  wire::StartEvent how = wire::StartEvent::kClone;
  auto creator = pending_.find(it.tid);
  if (!thread) {
    // task_newtask has the flags without the exit signal; the creator's call has it.
    how = wire::StartEvent::kFork;
    if (flags & kCloneVfork) {
      how = wire::StartEvent::kVfork;
    } else if (creator != pending_.end() && creator->second.nr == nr::lookup(arch_, nr::kClone)) {
      if ((creator->second.args[0] & 0xff) != SIGCHLD) how = wire::StartEvent::kClone;
    } else if (creator != pending_.end() && creator->second.nr == nr::lookup(arch_, nr::kClone3) &&
               creator->second.blob.size() >= kCloneArgsExitSignal + 8) {
      uint64_t sig;
      std::memcpy(&sig, creator->second.blob.data() + kCloneArgsExitSignal, sizeof sig);
      if (sig != SIGCHLD) how = wire::StartEvent::kClone;
    }
  }
  wire::Record& r = writer_.add(wire::Kind::kThreadStart, uint32_t(thread ? target_ : child), uint32_t(child));
  r.time_ns = it.time;
  r.a = it.tid;
  r.b = uint32_t(how);
  r.args[0] = thread ? 1 : 0;  // a new process is not followed by this engine
  if (creator != pending_.end()) {
    r.args[1] = uint64_t(int64_t(creator->second.nr));
    r.args[2] = 1;
    r.arch = arch_;
  }
}

void PerfEngine::onProcessExit(const PerfItem& it) {
  auto pit = pending_.find(it.tid);
  if (pit != pending_.end()) {
    emitSyscall(it.tid, pit->second, 0, wire::kFlagUnfinished, it.time);
    pending_.erase(pit);
  }
  // The tracepoint has no exit code: the status the exit call asked for, or
  // the group's (a thread killed by exit_group); a signal's death shows as 0.
  auto st = exit_status_.find(it.tid);
  uint32_t status = group_status_known_ ? group_status_ : st != exit_status_.end() ? st->second : 0;
  // Gone: a thread-per-request server would grow these without limit, and a
  // reused tid must not inherit them.
  exit_status_.erase(it.tid);
  born_.erase(pid_t(it.tid));
  wire::Record& r = writer_.add(wire::Kind::kThreadExit, uint32_t(target_), it.tid);
  r.time_ns = it.time;
  r.a = status;
  if (it.v[1] == 1) {
    wire::Record& e = writer_.add(wire::Kind::kExit, uint32_t(target_), uint32_t(target_));
    e.time_ns = it.time;
    // Not asked by a call (killed by a signal): the zombie's own wait status, if it is not reaped yet.
    e.a = group_status_known_ ? group_status_ : zombieStatus(target_, status);
    target_exited_ = true;
    // Our child: the exact status, signal deaths included, and no zombie left.
    if (run_mode_) e.a = reapTarget();
  }
}

}  // namespace liveprobe
