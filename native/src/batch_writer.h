// Packs records and their extra bytes into wire batches (wire.h) on the
// tracer thread, and hands full batches to a sink. No allocation per record
// once the buffers have grown to their working size.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "wire.h"

namespace liveprobe {

uint64_t monotonicNs();

class BatchWriter {
 public:
  // The sink receives a finished batch; it may block (credit window).
  using Sink = std::function<void(std::vector<uint8_t>&& batch, uint32_t count)>;

  explicit BatchWriter(Sink sink) : sink_(std::move(sink)) {}

  // Appends a zeroed record with the next seq and the current time.
  wire::Record& add(wire::Kind kind, uint32_t pid, uint32_t tid);
  // Copies bytes into the data area; returns the offset to store in a record.
  uint32_t addData(std::string_view bytes);

  bool empty() const { return records_.empty(); }
  // Full or old enough that a consumer should see it now.
  bool due(uint64_t now_ns) const;
  // Sends what is pending (possibly nothing, when last is set) to the sink.
  void flush(bool last = false);
  void addLost(uint64_t n) { lost_ += n; }
  // Counts what a quiet rule kept out of the trace; sent with the next batch.
  void addHidden(uint32_t n) { hidden_ += n; }
  void addStops(uint64_t n) { stops_ += n; }
  uint64_t nextSeq() const { return next_seq_; }

 private:
  Sink sink_;
  std::vector<wire::Record> records_;
  std::vector<uint8_t> data_;
  uint64_t next_seq_ = 0;
  uint64_t lost_ = 0;
  uint32_t hidden_ = 0;
  uint64_t stops_ = 0;
  uint64_t first_ns_ = 0;
};

constexpr size_t kBatchMaxRecords = 1024;
constexpr size_t kBatchMaxData = 1 << 20;
constexpr uint64_t kBatchMaxAgeNs = 5'000'000;  // 5 ms

}  // namespace liveprobe
