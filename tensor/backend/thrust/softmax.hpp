// The Thrust backend's softmax and log-softmax along one axis.
#pragma once

#include "tensor/backend/thrust/launch.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

template <class T> struct SoftmaxKernel {
  const T* x;
  T* out;
  Layout rows_x, rows_out;  // every axis but `axis`
  Index length, stride_x, stride_out;
  bool log;

  MTTT_HD void operator()(Index row) const {
    const T* in = x + rows_x.offset(row);
    T* o = out + rows_out.offset(row);
    T m = in[0];
    for (Index j = 1; j < length; ++j) m = in[j * stride_x] > m ? in[j * stride_x] : m;
    T total(0);
    for (Index j = 0; j < length; ++j) total += std::exp(in[j * stride_x] - m);
    for (Index j = 0; j < length; ++j) {
      const T shifted = in[j * stride_x] - m;
      o[j * stride_out] = log ? shifted - std::log(total) : std::exp(shifted) / total;
    }
  }
};

}  // namespace thrust_backend

using namespace thrust_backend;

void ThrustBackend::softmax(const Tensor& x, int axis, bool log, const Tensor& out) {
  const AxisSplit sx = split_axis(x.shape(), x.strides(), axis), so = split_axis(out.shape(), out.strides(), axis);
  dispatch_floating(x.dtype(), "softmax", [&](auto zero) {
    using T = decltype(zero);
    parallel_for(numel(x.shape()) / std::max<Index>(sx.axis_size, 1),
                 SoftmaxKernel<T>{typed<T>(x), typed<T>(out), sx.rest, so.rest, sx.axis_size, sx.axis_stride,
                                  so.axis_stride, log});
  });
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
