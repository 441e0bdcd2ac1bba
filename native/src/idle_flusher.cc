#include "idle_flusher.h"

#include <chrono>

namespace liveprobe {

IdleFlusher::IdleFlusher(BatchWriter& writer) : writer_(writer), thread_([this] { loop(); }) {}

IdleFlusher::~IdleFlusher() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void IdleFlusher::park(uint64_t deadline_ns) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    armed_ = !writer_.empty();
    deadline_ns_ = deadline_ns;
    // Nothing to send: no need to wake this thread (a wake-up costs the
    // target a CPU slice as much as a batch does).
    if (!armed_) return;
  }
  cv_.notify_all();
}

void IdleFlusher::unpark() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [this] { return !flushing_; });
  armed_ = false;  // the flusher, if waiting for the deadline, sees it then
}

void IdleFlusher::loop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_) {
    if (!armed_) {
      cv_.wait(lk);
      continue;
    }
    uint64_t now = monotonicNs();
    if (now < deadline_ns_) {
      // Woken early by unpark(), a new park() or stop: the loop re-checks.
      cv_.wait_for(lk, std::chrono::nanoseconds(deadline_ns_ - now));
      continue;
    }
    armed_ = false;
    flushing_ = true;
    lk.unlock();
    writer_.flush();  // may wait for a credit; the tracer's unpark() waits for it
    lk.lock();
    flushing_ = false;
    cv_.notify_all();
  }
}

}  // namespace liveprobe
