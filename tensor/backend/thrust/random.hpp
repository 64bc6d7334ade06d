// The Thrust backend's random numbers (counter-based Philox, the CPU backend's formulas) and ranges.
#pragma once

#include "tensor/backend/thrust/launch.hpp"
#include "tensor/philox.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

template <class T> struct RandomKernel {
  T* out;
  PhiloxStream stream;
  double a, b;  // uniform: low, high; normal: mean, stddev
  bool normal;
  // The CPU backend's formulas exactly, so that a seed gives the same tensor on every device.
  MTTT_HD void operator()(Index i) const {
    const std::uint64_t counter = stream.offset + static_cast<std::uint64_t>(i);
    if (normal)
      out[i] = static_cast<T>(a + b * philox::normal_double(stream.seed, counter));
    else if constexpr (std::is_same_v<T, float>)
      out[i] = static_cast<float>(a) + static_cast<float>(b - a) * philox::uniform_float(stream.seed, counter);
    else
      out[i] = static_cast<T>(a + (b - a) * philox::uniform_double(stream.seed, counter));
  }
};

template <class T> struct ArangeKernel {
  T* out;
  double start, step;
  MTTT_HD void operator()(Index i) const { out[i] = static_cast<T>(start + step * static_cast<double>(i)); }
};

}  // namespace thrust_backend

using namespace thrust_backend;

void ThrustBackend::uniform(const PhiloxStream& stream, double low, double high, const Tensor& out) {
  dispatch_floating(out.dtype(), "uniform", [&](auto zero) {
    using T = decltype(zero);
    parallel_for(out.numel(), RandomKernel<T>{typed<T>(out), stream, low, high, false});
  });
}

void ThrustBackend::normal(const PhiloxStream& stream, double mean, double stddev, const Tensor& out) {
  dispatch_floating(out.dtype(), "normal", [&](auto zero) {
    using T = decltype(zero);
    parallel_for(out.numel(), RandomKernel<T>{typed<T>(out), stream, mean, stddev, true});
  });
}

void ThrustBackend::arange(double start, double step, const Tensor& out) {
  dispatch_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    parallel_for(out.numel(), ArangeKernel<T>{typed<T>(out), start, step});
  });
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
