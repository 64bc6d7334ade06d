// The Thrust backend's softmax and log-softmax along one axis: a group of threads per row
// (groups.hpp: one thread on the host, a warp or a block on CUDA).
#pragma once

#include "tensor/backend/thrust/groups.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

// A row per group (groups.hpp): its maximum, the sum of exponentials and the output, in three
// sweeps over the row.
template <class T> struct SoftmaxBody {
  const T* x;
  T* out;
  Layout rows_x, rows_out;  // every axis but `axis`
  Index length, stride_x, stride_out;
  bool log;

  template <class G> MTTT_HD void operator()(const G& g, Index row) const {
    const T* in = x + rows_x.offset(row);
    T* o = out + rows_out.offset(row);
    T m = in[0];
    for (Index j = g.lane(); j < length; j += g.size()) m = in[j * stride_x] > m ? in[j * stride_x] : m;
    m = g.reduce(m, MaxOf<T>{});
    // A row of -inf (or with +inf) has no finite maximum; subtracting it would give NaN.
    if (!std::isfinite(m)) m = T(0);
    T total(0);
    for (Index j = g.lane(); j < length; j += g.size()) total += std::exp(in[j * stride_x] - m);
    total = g.reduce(total, SumOf<T>{});
    const T log_total = std::log(total);
    for (Index j = g.lane(); j < length; j += g.size()) {
      const T shifted = in[j * stride_x] - m;
      o[j * stride_out] = log ? shifted - log_total : std::exp(shifted) / total;
    }
  }
};

}  // namespace thrust_backend

using namespace thrust_backend;

void ThrustBackend::softmax(const Tensor& x, int axis, bool log, const Tensor& out) {
  const AxisSplit sx = split_axis(x.shape(), x.strides(), axis), so = split_axis(out.shape(), out.strides(), axis);
  dispatch_floating(x.dtype(), "softmax", [&](auto zero) {
    using T = decltype(zero);
    if (sx.axis_size == 0) return;
    for_each_group(numel(x.shape()) / sx.axis_size, sx.axis_size,
                   SoftmaxBody<T>{typed<T>(x), typed<T>(out), sx.rest, so.rest, sx.axis_size, sx.axis_stride,
                                  so.axis_stride, log});
  });
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
