// Delivers the tracer's pending records when the tracer has been blocked in
// waitpid for a while, from a thread of its own.
//
// The tracer thread cannot flush on a timer while it sleeps in waitpid, and
// flushing every time it is about to sleep means one batch, and one wake-up
// of Node's main thread, per stop when stops are sparse (run with a seccomp
// filter: a Go program's preemption tgkill, its exit and the signal it sends
// are three stops within a millisecond, then nothing for several). Those
// wake-ups run on CPUs the target needs. So the tracer parks the writer here
// before it blocks, and the flusher sends the batch once the target has been
// quiet for a moment, or the batch is old enough, whichever comes first.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "batch_writer.h"

namespace liveprobe {

class IdleFlusher {
 public:
  explicit IdleFlusher(BatchWriter& writer);
  ~IdleFlusher();  // stops and joins the thread
  IdleFlusher(const IdleFlusher&) = delete;
  IdleFlusher& operator=(const IdleFlusher&) = delete;

  // Tracer thread, before blocking: the flusher may flush the writer at
  // deadline_ns (monotonicNs) until unpark(). Nothing pending: nothing to do.
  void park(uint64_t deadline_ns);
  // Tracer thread, after waking: the writer is the tracer's again, once a
  // flush in progress (which may be waiting for the consumer's credit) ends.
  void unpark();

 private:
  void loop();

  BatchWriter& writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;     // the tracer is blocked with records pending, not sent yet
  bool flushing_ = false;  // this thread is using the writer
  bool stopping_ = false;
  uint64_t deadline_ns_ = 0;
  std::thread thread_;  // last: starts once the fields above exist
};

// When a parked writer is flushed: the target quiet this long since the last
// record, or the batch as old as a busy tracer would let it get.
constexpr uint64_t kIdleFlushQuietNs = 1'000'000;  // 1 ms

}  // namespace liveprobe
