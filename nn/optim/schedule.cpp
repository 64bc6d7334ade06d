#include "nn/optim/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "tensor/error.hpp"

namespace mttt::nn {

Schedule constant_schedule(double value) {
  return [value](std::int64_t) { return value; };
}

Schedule warmup_cosine_schedule(double value, std::int64_t warmup, std::int64_t total) {
  return [=](std::int64_t s) {
    double warm = warmup > 0 ? std::min(1.0, static_cast<double>(s) / static_cast<double>(warmup)) : 1.0;
    double span = static_cast<double>(std::max<std::int64_t>(total - warmup, 1));
    double progress = std::clamp(static_cast<double>(s - warmup) / span, 0.0, 1.0);
    return value * warm * 0.5 * (1.0 + std::cos(M_PI * progress));
  };
}

Schedule warmup_linear_schedule(double value, std::int64_t warmup, std::int64_t total) {
  return [=](std::int64_t s) {
    double warm = warmup > 0 ? std::min(1.0, static_cast<double>(s) / static_cast<double>(warmup)) : 1.0;
    double span = static_cast<double>(std::max<std::int64_t>(total - warmup, 1));
    double progress = std::clamp(static_cast<double>(s - warmup) / span, 0.0, 1.0);
    return value * warm * (1.0 - progress);
  };
}

Schedule make_schedule(const std::string& name, double value, std::int64_t warmup, std::int64_t total) {
  if (name == "constant") return constant_schedule(value);
  if (name == "cosine") return warmup_cosine_schedule(value, warmup, total);
  if (name == "linear") return warmup_linear_schedule(value, warmup, total);
  fail("schedule", "unknown schedule '{}': expected constant, cosine or linear", name);
}

}  // namespace mttt::nn
