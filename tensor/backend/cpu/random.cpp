// Random fills and ranges: element i depends only on its index, so any split over threads
// gives the same tensor.
#include "tensor/backend/cpu/cpu_backend.hpp"
#include "tensor/runtime.hpp"

namespace mttt {

namespace {
template <class F> void fill_indexed(const Tensor& out, F&& value_at) {
  check(out.is_contiguous(), "random", "internal error: random fills write contiguous outputs");
  dispatch_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* d = out.data<T>();
    const std::int64_t n = out.numel();
#pragma omp parallel for if (n >= kParallelThreshold / 8) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(value_at(static_cast<std::uint64_t>(i)));
  });
}
}  // namespace

void CpuBackend::uniform(const PhiloxStream& stream, double low, double high, const Tensor& out) {
  counters_.launch();
  if (out.dtype() == DType::float32)
    fill_indexed(out, [&](std::uint64_t i) {
      return static_cast<float>(low) + static_cast<float>(high - low) * philox_uniform<float>(stream, i);
    });
  else
    fill_indexed(out, [&](std::uint64_t i) { return low + (high - low) * philox_uniform<double>(stream, i); });
}

void CpuBackend::normal(const PhiloxStream& stream, double mean, double stddev, const Tensor& out) {
  counters_.launch();
  fill_indexed(out, [&](std::uint64_t i) { return mean + stddev * philox_normal<double>(stream, i); });
}

void CpuBackend::arange(double start, double step, const Tensor& out) {
  counters_.launch();
  fill_indexed(out, [&](std::uint64_t i) { return start + step * static_cast<double>(i); });
}

}  // namespace mttt
