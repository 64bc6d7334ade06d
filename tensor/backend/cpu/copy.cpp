// Copies between strided tensors (with dtype conversion), fills, and host transfers.
#include <cstring>

#include "tensor/backend/cpu/cpu_backend.hpp"
#include "tensor/backend/cpu/strided.hpp"
#include "tensor/runtime.hpp"

namespace mttt {

namespace {

template <class From, class To> void copy_typed(const Tensor& src, const Tensor& dst) {
  const std::int64_t n = src.numel();
  const From* s = static_cast<const From*>(src.data_ptr());
  To* d = static_cast<To*>(dst.data_ptr());
  Shape shape = src.shape();
  Strides strides[2] = {src.strides(), dst.strides()};
  cpu::coalesce(shape, strides, 2);
  if (shape.size() <= 1 && (shape.empty() || (strides[0][0] == 1 && strides[1][0] == 1))) {
    if constexpr (std::is_same_v<From, To>) {
      std::memcpy(d, s, static_cast<std::size_t>(n) * sizeof(To));
    } else {
#pragma omp parallel for if (n >= kParallelThreshold) schedule(static)
      for (std::int64_t i = 0; i < n; ++i) d[i] = static_cast<To>(s[i]);
    }
    return;
  }
  // Strided: rows of the innermost axis, in parallel over rows.
  const std::int64_t inner = shape.empty() ? 1 : shape.back();
  const std::int64_t rows = n / std::max<std::int64_t>(inner, 1);
  const std::int64_t si = shape.empty() ? 0 : strides[0].back(), di = shape.empty() ? 0 : strides[1].back();
  Shape outer = shape;
  Strides so = strides[0], dso = strides[1];
  if (!outer.empty()) {
    outer.erase(outer.size() - 1);
    so.erase(so.size() - 1);
    dso.erase(dso.size() - 1);
  }
#pragma omp parallel if (n >= kParallelThreshold)
  {
    cpu::StridedWalk ws(outer, so), wd(outer, dso);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
      ws.seek(r);
      wd.seek(r);
      const From* sp = s + ws.offset();
      To* dp = d + wd.offset();
      for (std::int64_t i = 0; i < inner; ++i) dp[i * di] = static_cast<To>(sp[i * si]);
    }
  }
}

}  // namespace

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  counters_.launch();
  if (src.shape() != dst.shape())
    fail("copy", "source {} and destination {} differ in shape", to_string(src.shape()), to_string(dst.shape()));
  dispatch_dtype(src.dtype(), [&](auto from) {
    dispatch_dtype(dst.dtype(), [&](auto to) { copy_typed<decltype(from), decltype(to)>(src, dst); });
  });
}

void CpuBackend::fill(const Tensor& dst, double value) {
  counters_.launch();
  dispatch_dtype(dst.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T v = static_cast<T>(value);
    if (dst.is_contiguous()) {
      T* d = dst.data<T>();
      const std::int64_t n = dst.numel();
#pragma omp parallel for if (n >= kParallelThreshold) schedule(static)
      for (std::int64_t i = 0; i < n; ++i) d[i] = v;
      return;
    }
    cpu::StridedWalk walk(dst.shape(), dst.strides());
    walk.seek(0);
    T* d = dst.data<T>();
    for (std::int64_t i = 0; i < dst.numel(); ++i, walk.next()) d[walk.offset()] = v;
  });
}

void CpuBackend::copy_from_host(const void* host, const Tensor& dst) {
  counters_.launch();
  if (dst.numel() == 0) return;  // an empty vector's data() may be null, which memcpy must not see
  if (dst.is_contiguous()) {
    std::memcpy(dst.data_ptr(), host, static_cast<std::size_t>(dst.numel()) * itemsize(dst.dtype()));
    return;
  }
  dispatch_dtype(dst.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* h = static_cast<const T*>(host);
    cpu::StridedWalk walk(dst.shape(), dst.strides());
    walk.seek(0);
    T* d = dst.data<T>();
    for (std::int64_t i = 0; i < dst.numel(); ++i, walk.next()) d[walk.offset()] = h[i];
  });
}

void CpuBackend::copy_to_host(const Tensor& src, void* host) {
  counters_.launch();
  if (src.numel() == 0) return;
  if (src.is_contiguous()) {
    std::memcpy(host, src.data_ptr(), static_cast<std::size_t>(src.numel()) * itemsize(src.dtype()));
    return;
  }
  dispatch_dtype(src.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* h = static_cast<T*>(host);
    cpu::StridedWalk walk(src.shape(), src.strides());
    walk.seek(0);
    const T* s = src.data<T>();
    for (std::int64_t i = 0; i < src.numel(); ++i, walk.next()) h[i] = s[walk.offset()];
  });
}

}  // namespace mttt
