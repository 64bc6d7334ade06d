// Learning-rate schedules: a multiplier or a rate as a function of the number of updates
// already applied (the first update sees step 0).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace mttt::nn {

using Schedule = std::function<double(std::int64_t step)>;

Schedule constant_schedule(double value);
// value * min(1, s / warmup) * 0.5 (1 + cos(pi clip((s - warmup) / (total - warmup), 0, 1))):
// the spec's m(s) with value 1, warmup 10,000 and total round(90 * 1281167 / 1024).
Schedule warmup_cosine_schedule(double value, std::int64_t warmup, std::int64_t total);
// Linear warm-up to `value`, then linear decay to 0 at `total`.
Schedule warmup_linear_schedule(double value, std::int64_t warmup, std::int64_t total);

// By name, for configs: "constant", "cosine" (warm-up then cosine), "linear" (warm-up then
// linear decay); throws naming the valid names.
Schedule make_schedule(const std::string& name, double value, std::int64_t warmup, std::int64_t total);

}  // namespace mttt::nn
