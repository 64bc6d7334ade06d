// The Thrust backend's index kernels: index_select and gather, and their adjoints index_add and
// scatter_add.
#pragma once

#include "tensor/backend/thrust/launch.hpp"
#include "tensor/backend/thrust/index_checks.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

template <class T> struct IndexSelectKernel {  // out[..., j, ...] = x[..., index[j], ...]
  const T* x;
  T* out;
  const Index* index;
  AxisSplit sx, so;
  MTTT_HD void operator()(Index e) const {  // e = (rest position) * n + j
    const Index n = so.axis_size, j = e % n, rest = e / n;
    out[so.rest.offset(rest) + j * so.axis_stride] = x[sx.rest.offset(rest) + index[j] * sx.axis_stride];
  }
};

template <class T> struct IndexAddKernel {  // out[..., index[j], ...] += src[..., j, ...], j in order
  T* out;
  const T* src;
  const Index* index;
  AxisSplit so, ss;
  MTTT_HD void operator()(Index rest) const {
    T* o = out + so.rest.offset(rest);
    const T* s = src + ss.rest.offset(rest);
    for (Index j = 0; j < ss.axis_size; ++j) o[index[j] * so.axis_stride] += s[j * ss.axis_stride];
  }
};

template <class T> struct GatherKernel {  // out[i..., j, k...] = x[i..., index[i..., j, k...], k...]
  const T* x;
  T* out;
  const Index* index;
  Layout lo, li, lx;  // out's shape; the index's, out's strides and x's strides with `axis` stride 0
  int axis;
  Index x_axis_stride;
  MTTT_HD void operator()(Index e) const {
    out[lo.offset(e)] = x[lx.offset(e) + index[li.offset(e)] * x_axis_stride];
  }
};

template <class T> struct ScatterAddKernel {  // out[i..., index[i..., j, k...], k...] += src[i..., j, k...]
  T* out;
  const T* src;
  const Index* index;
  AxisSplit si, ss, so;  // the index's, src's and out's positions without `axis`
  MTTT_HD void operator()(Index rest) const {
    for (Index j = 0; j < si.axis_size; ++j) {
      const Index at = index[si.rest.offset(rest) + j * si.axis_stride];
      out[so.rest.offset(rest) + at * so.axis_stride] += src[ss.rest.offset(rest) + j * ss.axis_stride];
    }
  }
};

}  // namespace thrust_backend

using namespace thrust_backend;

void ThrustBackend::index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) {
  check_indices(index, x.shape()[axis], "index_select");
  const AxisSplit sx = split_axis(x.shape(), x.strides(), axis), so = split_axis(out.shape(), out.strides(), axis);
  dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    parallel_for(out.numel(), IndexSelectKernel<T>{typed<T>(x), typed<T>(out), typed<Index>(index), sx, so});
  });
}

void ThrustBackend::index_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) {
  check_indices(index, out.shape()[axis], "index_add");
  const AxisSplit so = split_axis(out.shape(), out.strides(), axis), ss = split_axis(src.shape(), src.strides(), axis);
  dispatch_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    parallel_for(numel(src.shape()) / std::max<Index>(ss.axis_size, 1),
                 IndexAddKernel<T>{typed<T>(out), typed<T>(src), typed<Index>(index), so, ss});
  });
}

void ThrustBackend::gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) {
  check_indices(index, x.shape()[axis], "gather");
  Strides xs = x.strides();
  xs[axis] = 0;  // the index supplies this axis
  dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    parallel_for(out.numel(), GatherKernel<T>{typed<T>(x), typed<T>(out), typed<Index>(index), layout_of(out),
                                              make_layout(out.shape(), index.strides()), make_layout(out.shape(), xs),
                                              axis, x.strides()[axis]});
  });
}

void ThrustBackend::scatter_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) {
  check_indices(index, out.shape()[axis], "scatter_add");
  const AxisSplit si = split_axis(index.shape(), index.strides(), axis);
  const AxisSplit ss = split_axis(index.shape(), src.strides(), axis);
  AxisSplit so = split_axis(index.shape(), out.strides(), axis);
  dispatch_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    parallel_for(numel(index.shape()) / std::max<Index>(si.axis_size, 1),
                 ScatterAddKernel<T>{typed<T>(out), typed<T>(src), typed<Index>(index), si, ss, so});
  });
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
