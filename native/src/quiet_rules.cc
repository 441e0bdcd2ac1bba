#include "quiet_rules.h"

#include "js_number.h"

namespace liveprobe {

bool QuietRules::assign(const std::vector<double>& calls, const std::vector<double>& self_signals) {
  calls_.clear();
  self_signals_.clear();
  if (calls.size() % QuietCall::kFields != 0 || calls.size() / QuietCall::kFields > QuietCall::kMax) return false;
  std::vector<QuietCall> parsed;
  for (size_t i = 0; i < calls.size(); i += QuietCall::kFields) {
    const double* f = &calls[i];
    if (!integral(f[0], 0, 4294967295.0) || !integral(f[1], 0, 1023) || !integral(f[2], 0, 5) ||
        !integral(f[3], 0, 4294967295.0))
      return false;
    parsed.push_back(QuietCall{uint32_t(f[0]), int32_t(f[1]), uint8_t(f[2]), uint32_t(f[3])});
  }
  std::vector<int> sigs;
  if (self_signals.size() > QuietCall::kMax) return false;
  for (double s : self_signals) {
    if (!integral(s, 1, 64)) return false;
    sigs.push_back(int(s));
  }
  calls_ = std::move(parsed);
  self_signals_ = std::move(sigs);
  return true;
}

bool QuietRules::hidesCall(uint32_t arch, int32_t nr, const uint64_t* args) const {
  for (const QuietCall& c : calls_)
    if (c.nr == nr && c.arch == arch && uint32_t(args[c.arg]) == c.value) return true;
  return false;
}

bool QuietRules::hidesSelfSignal(int sig) const {
  for (int s : self_signals_)
    if (s == sig) return true;
  return false;
}

}  // namespace liveprobe
