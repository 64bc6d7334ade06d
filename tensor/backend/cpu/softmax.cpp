// Softmax and log-softmax along one axis: per row, the maximum, the sum of exponentials and
// the output in three sweeps over the row (a contiguous row is vectorised by Eigen).
#include <cmath>
#include <limits>

#include <Eigen/Core>

#include "tensor/backend/cpu/cpu_backend.hpp"
#include "tensor/backend/cpu/strided.hpp"
#include "tensor/runtime.hpp"

namespace mttt {

namespace {

template <class T> void run(const Tensor& x_in, int axis, bool log, const Tensor& out) {
  Tensor x = x_in;
  const std::int64_t len = x.shape()[axis];
  const std::int64_t sx = x.strides()[axis];
  const std::int64_t so = out.strides()[axis];
  Shape rows_shape = x.shape();
  Strides rows_x = x.strides(), rows_out = out.strides();
  rows_shape.erase(axis);
  rows_x.erase(axis);
  rows_out.erase(axis);
  const std::int64_t rows = numel(rows_shape);
  if (len == 0 || rows == 0) return;
  const T* xd = x.data<T>();
  T* od = out.data<T>();
#pragma omp parallel if (rows * len >= kParallelThreshold)
  {
    cpu::StridedWalk wx(rows_shape, rows_x), wo(rows_shape, rows_out);
    // Aligned, so that Eigen's split between scalar and packet code does not vary between runs.
    std::vector<T, Eigen::aligned_allocator<T>> buffer(len);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
      wx.seek(r);
      wo.seek(r);
      const T* xr = xd + wx.offset();
      T* orow = od + wo.offset();
      for (std::int64_t i = 0; i < len; ++i) buffer[i] = xr[i * sx];
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> v(buffer.data(), len);
      const T m = v.maxCoeff();
      // A row of -inf (or with +inf) has no finite maximum; subtracting it would give NaN.
      const T shift = std::isfinite(m) ? m : T(0);
      v = v - shift;
      if (log) {
        const T lse = std::log((v.exp()).sum());
        v = v - lse;
      } else {
        v = v.exp();
        v = v / v.sum();
      }
      for (std::int64_t i = 0; i < len; ++i) orow[i * so] = buffer[i];
    }
  }
}

}  // namespace

void CpuBackend::softmax(const Tensor& x, int axis, bool log, const Tensor& out) {
  counters_.launch();
  dispatch_floating(x.dtype(), "softmax", [&](auto zero) { run<decltype(zero)>(x, axis, log, out); });
}

}  // namespace mttt
