#include "batch_writer.h"

#include <time.h>

#include <cstring>

namespace liveprobe {

uint64_t monotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

wire::Record& BatchWriter::add(wire::Kind kind, uint32_t pid, uint32_t tid) {
  uint64_t now = monotonicNs();
  if (records_.empty()) first_ns_ = now;
  records_.emplace_back();
  wire::Record& r = records_.back();
  std::memset(&r, 0, sizeof r);
  r.seq = next_seq_++;
  r.time_ns = now;
  r.kind = uint16_t(kind);
  r.pid = pid;
  r.tid = tid;
  r.nr = -1;
  return r;
}

uint32_t BatchWriter::addData(std::string_view bytes) {
  uint32_t off = uint32_t(data_.size());
  data_.insert(data_.end(), bytes.begin(), bytes.end());
  return off;
}

bool BatchWriter::due(uint64_t now_ns) const {
  if (records_.empty()) return false;
  return records_.size() >= kBatchMaxRecords || data_.size() >= kBatchMaxData ||
         now_ns - first_ns_ >= kBatchMaxAgeNs;
}

void BatchWriter::flush(bool last) {
  if (records_.empty() && !last) return;
  wire::BatchHeader h{};
  h.magic = wire::kMagic;
  h.version = wire::kVersion;
  h.record_size = sizeof(wire::Record);
  h.count = uint32_t(records_.size());
  h.data_bytes = uint32_t(data_.size());
  h.lost = lost_;
  h.hidden = hidden_;
  h.stops = stops_;
  h.flags = last ? wire::kBatchLast : 0;
  std::vector<uint8_t> out(sizeof h + records_.size() * sizeof(wire::Record) + data_.size());
  std::memcpy(out.data(), &h, sizeof h);
  if (!records_.empty())
    std::memcpy(out.data() + sizeof h, records_.data(), records_.size() * sizeof(wire::Record));
  if (!data_.empty())
    std::memcpy(out.data() + sizeof h + records_.size() * sizeof(wire::Record), data_.data(),
                data_.size());
  uint32_t count = h.count;
  records_.clear();
  data_.clear();
  lost_ = 0;
  hidden_ = 0;
  stops_ = 0;
  sink_(std::move(out), count);
}

}  // namespace liveprobe
