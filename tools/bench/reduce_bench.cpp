// Reductions: the sums the MTTT layer's backward takes most (a row mean of layer norm, the
// sum over tokens of the fast weights' bias, the parameters' bias gradients), float32, timed on
// one tensor reused (cache-warm) and on sixteen taken in turn (from memory, as in a backward
// pass). Each result is checked against the same sum of the float64 values.
#include <algorithm>
#include <cmath>

#include "tensor/tensor.hpp"
#include "tools/bench/sections.hpp"

namespace mttt::bench {

namespace {

struct Case {
  const char* name;
  Shape shape;
  Axes axes;
};

const std::vector<Case> kCases = {
    {"row sums, (B, H, N, D) -> (B, H, N, 1)", {8, 3, 196, 192}, {3}},
    {"over tokens, (B, H, N, 4d) -> (B, H, 1, 4d)", {8, 3, 196, 256}, {2}},
    {"per-head bias, (B, H, N, D) -> (1, H, 1, D)", {8, 3, 196, 192}, {0, 2}},
    {"bias, (B, H, N, D) -> (D)", {8, 3, 196, 192}, {0, 1, 2}},
    {"bias, (B N, 4 D) -> (4 D)", {1568, 768}, {0}},
};

constexpr int kColdTensors = 16;

}  // namespace

SectionResult run_reduce(const Options& options) {
  const int threads_before = num_threads();
  Table table({"sum, float32", "threads", "warm us", "warm GB/s", "cold us", "cold GB/s", "max rel. error"});
  nlohmann::json rows = nlohmann::json::array();
  for (const Case& c : kCases) {
    std::vector<Tensor> inputs;
    for (int i = 0; i < kColdTensors; ++i) inputs.push_back(uniform(c.shape, -1, 1, {DType::float32}));
    Tensor exact = sum(cast(inputs[0], DType::float64), c.axes, true);
    const double error = max(abs(cast(sum(inputs[0], c.axes, true), DType::float64) - exact) /
                             (abs(exact) + 1e-30))
                             .item<double>();
    const double bytes = static_cast<double>(inputs[0].numel()) * 4;
    for (int t : options.threads) {
      set_num_threads(t);
      Timing warm = measure(options, [&] { sum(inputs[0], c.axes, true); });
      int next = 0;
      Timing cold = measure(options, [&] { sum(inputs[next++ % kColdTensors], c.axes, true); });
      table.add({c.name, std::to_string(t), fmt::format("{:.1f}", warm.median * 1e6),
                 fmt::format("{:.1f}", bytes / warm.median * 1e-9), fmt::format("{:.1f}", cold.median * 1e6),
                 fmt::format("{:.1f}", bytes / cold.median * 1e-9), fmt::format("{:.1e}", error)});
      rows.push_back({{"case", c.name},
                      {"shape", c.shape.vec()},
                      {"axes", c.axes},
                      {"threads", t},
                      {"bytes_read", bytes},
                      {"max_relative_error_vs_float64", error},
                      {"warm", warm.to_json()},
                      {"cold", cold.to_json()}});
    }
  }
  set_num_threads(threads_before);
  return {"Reductions of the MTTT layer's backward (B 8, H 3, N 196, D 192), float32 summed in float64", table.str(),
          {{"rows", rows}}};
}

}  // namespace mttt::bench
