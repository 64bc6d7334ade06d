// What every parity program checks with: the device under test (thrust-host unless
// MTTT_PARITY_DEVICE names another, cuda on a GPU machine; a device that cannot be used here
// skips the program, exit 77), and comparisons of its results with the CPU backend's.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "tensor/backend/backend.hpp"
#include "tensor/tensor.hpp"

namespace mttt::parity {

inline const Device kThrust = [] {
  const char* name = std::getenv("MTTT_PARITY_DEVICE");
  const Device device = parse_device(name ? name : "thrust-host");
  try {
    backend(device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: skipping\n", e.what());
    std::exit(77);
  }
  return device;
}();

inline Tensor on(const Tensor& x) { return to(x, kThrust); }

// max |a - b| / max(1, max |b|) between a thrust-host result and the CPU's; NaN only where the
// CPU has NaN.
inline void check_same(const Tensor& thrust, const Tensor& cpu, double tolerance) {
  REQUIRE(thrust.device() == kThrust);
  REQUIRE(thrust.shape() == cpu.shape());
  REQUIRE(thrust.dtype() == cpu.dtype());
  const auto a = to(thrust, kCPU).to_vector<double>(), b = cpu.to_vector<double>();
  double scale = 1, worst = 0;
  std::size_t nan_mismatches = 0;
  for (double v : b)
    if (!std::isnan(v)) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i]))
      nan_mismatches += std::isnan(a[i]) != std::isnan(b[i]);
    else
      worst = std::max(worst, std::abs(a[i] - b[i]));
  }
  INFO("max difference " << worst << " at scale " << scale);
  CHECK(nan_mismatches == 0);
  CHECK(worst / scale <= tolerance);
}

inline double tolerance_of(DType dtype) {
  return dtype == DType::float32 ? 2e-6 : dtype == DType::float64 ? 1e-13 : 0;
}

// Runs f on CPU inputs and on their copies on the device and compares the results.
inline void check_op(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                     double tolerance) {
  std::vector<Tensor> moved;
  for (const Tensor& x : inputs) moved.push_back(on(x));
  check_same(f(moved), f(inputs), tolerance);
}

inline Tensor rnd(const Shape& shape, DType dtype, std::uint64_t seed, double low = -1, double high = 1) {
  Generator g(seed);
  return uniform(shape, low, high, {dtype}, &g);
}

}  // namespace mttt::parity
