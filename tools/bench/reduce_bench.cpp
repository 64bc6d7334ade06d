// Reductions on --device (cpu, thrust-host, cuda): a full sum of 16M floats, row sums and column
// sums of a (4096, 4096) matrix (the memory-bandwidth figures), and the sums the MTTT layer's
// backward takes most (a row mean of layer norm, the sum over tokens of the fast weights' bias,
// the parameters' bias gradients), float32, timed on one tensor reused (cache-warm) and on
// several taken in turn (from memory, as in a backward pass). GB/s counts the bytes read. Each
// result is checked against the same sum of the float64 values.
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
    {"full sum, 16M -> ()", {16777216}, {0}},
    {"row sums, (4096, 4096) -> (4096)", {4096, 4096}, {1}},
    {"column sums, (4096, 4096) -> (4096)", {4096, 4096}, {0}},
    {"row sums, (B, H, N, D) -> (B, H, N, 1)", {8, 3, 196, 192}, {3}},
    {"over tokens, (B, H, N, 4d) -> (B, H, 1, 4d)", {8, 3, 196, 256}, {2}},
    {"per-head bias, (B, H, N, D) -> (1, H, 1, D)", {8, 3, 196, 192}, {0, 2}},
    {"bias, (B, H, N, D) -> (D)", {8, 3, 196, 192}, {0, 1, 2}},
    {"bias, (B N, 4 D) -> (4 D)", {1568, 768}, {0}},
};

// Tensors taken in turn for the cold figure: 16, or fewer where they would pass 512 MiB.
int cold_tensors(const Shape& shape) {
  return static_cast<int>(std::clamp<std::int64_t>((std::int64_t{512} << 20) / (numel(shape) * 4), 2, 16));
}

}  // namespace

SectionResult run_reduce(const Options& options) {
  const int threads_before = num_threads();
  Table table({"sum, float32", "threads", "warm us", "warm GB/s", "cold us", "cold GB/s", "max rel. error"});
  nlohmann::json rows = nlohmann::json::array();
  const Device device = options.device;
  // Kernels may run asynchronously (cuda): a call is timed to its end.
  auto timed_sum = [device](const Tensor& x, const Axes& axes) {
    sum(x, axes, true);
    synchronize(current_stream(device));
  };
  // Thread counts matter on the host only.
  const std::vector<int> threads = device.type == DeviceType::cuda ? std::vector<int>{num_threads()} : options.threads;
  for (const Case& c : kCases) {
    const int cold_count = cold_tensors(c.shape);
    std::vector<Tensor> inputs;
    for (int i = 0; i < cold_count; ++i) inputs.push_back(uniform(c.shape, -1, 1, {DType::float32, device}));
    Tensor exact = sum(cast(inputs[0], DType::float64), c.axes, true);
    const double error = max(abs(cast(sum(inputs[0], c.axes, true), DType::float64) - exact) /
                             (abs(exact) + 1e-30))
                             .item<double>();
    const double bytes = static_cast<double>(inputs[0].numel()) * 4;
    for (int t : threads) {
      set_num_threads(t);
      Timing warm = measure(options, [&] { timed_sum(inputs[0], c.axes); });
      int next = 0;
      Timing cold = measure(options, [&] { timed_sum(inputs[next++ % cold_count], c.axes); });
      table.add({c.name, std::to_string(t), fmt::format("{:.1f}", warm.median * 1e6),
                 fmt::format("{:.1f}", bytes / warm.median * 1e-9), fmt::format("{:.1f}", cold.median * 1e6),
                 fmt::format("{:.1f}", bytes / cold.median * 1e-9), fmt::format("{:.1e}", error)});
      rows.push_back({{"case", c.name},
                      {"shape", c.shape.vec()},
                      {"axes", c.axes},
                      {"threads", t},
                      {"device", to_string(device)},
                      {"warm_gb_per_s", bytes / warm.median * 1e-9},
                      {"cold_gb_per_s", bytes / cold.median * 1e-9},
                      {"bytes_read", bytes},
                      {"max_relative_error_vs_float64", error},
                      {"warm", warm.to_json()},
                      {"cold", cold.to_json()}});
    }
  }
  set_num_threads(threads_before);
  return {"Reductions on " + to_string(device) +
              ": 16M floats, a (4096, 4096) matrix and the MTTT layer's backward (B 8, H 3, N 196, D 192), float32 "
              "summed in float64",
          table.str(),
          {{"rows", rows}}};
}

}  // namespace mttt::bench
