// The Thrust backend's data movement: strided copies with dtype conversion, fills, and
// transfers between host memory and the device (ThrustBackend::upload and download: a copy to the
// device is queued without waiting, a copy to the host waits for the stream).
#pragma once

#include "tensor/backend/thrust/launch.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

template <class S, class D> struct CopyKernel {
  const S* src;
  D* dst;
  Layout ls, ld;
  MTTT_HD void operator()(Index i) const { dst[ld.offset(i)] = static_cast<D>(src[ls.offset(i)]); }
};

template <class T> struct FillKernel {
  T* dst;
  Layout l;
  T value;
  MTTT_HD void operator()(Index i) const { dst[l.offset(i)] = value; }
};

}  // namespace thrust_backend

using namespace thrust_backend;

void ThrustBackend::copy(const Tensor& src, const Tensor& dst) {
  dispatch_dtype(src.dtype(), [&](auto s) {
    dispatch_dtype(dst.dtype(), [&](auto d) {
      using S = decltype(s);
      using D = decltype(d);
      parallel_for(dst.numel(), CopyKernel<S, D>{typed<S>(src), typed<D>(dst), layout_of(src), layout_of(dst)});
    });
  });
}

void ThrustBackend::fill(const Tensor& dst, double value) {
  dispatch_dtype(dst.dtype(), [&](auto zero) {
    using T = decltype(zero);
    parallel_for(dst.numel(), FillKernel<T>{typed<T>(dst), layout_of(dst), static_cast<T>(value)});
  });
}

// A contiguous tensor is copied directly; a strided one through a contiguous device buffer.
void ThrustBackend::copy_from_host(const void* host, const Tensor& dst) {
  dispatch_dtype(dst.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const Index n = dst.numel();
    const T* from = static_cast<const T*>(host);
    if (n == 0) return;
    if (dst.is_contiguous()) {
      upload(from, typed<T>(dst), static_cast<std::size_t>(n) * sizeof(T));
      return;
    }
    DeviceBuffer<T> staged(*this, from, n);
    Layout contiguous = make_layout(dst.shape(), contiguous_strides(dst.shape()));
    parallel_for(n, CopyKernel<T, T>{staged.data(), typed<T>(dst), contiguous, layout_of(dst)});
  });
}

void ThrustBackend::copy_to_host(const Tensor& src, void* host) {
  dispatch_dtype(src.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const Index n = src.numel();
    T* to = static_cast<T*>(host);
    if (n == 0) return;
    if (src.is_contiguous()) {
      download(typed<T>(src), to, static_cast<std::size_t>(n) * sizeof(T));
      return;
    }
    DeviceBuffer<T> staged(*this, n);
    Layout contiguous = make_layout(src.shape(), contiguous_strides(src.shape()));
    parallel_for(n, CopyKernel<T, T>{typed<T>(src), staged.data(), layout_of(src), contiguous});
    download(staged.data(), to, static_cast<std::size_t>(n) * sizeof(T));
  });
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
