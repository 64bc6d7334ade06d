// The Thrust backend's reductions (sum, max, min, argmax, argmin) over any set of axes.
#pragma once

#include "tensor/backend/thrust/launch.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

template <class T, class O> struct ReduceKernel {
  const T* x;
  O* out;
  Layout kept;     // the kept axes (reduced ones of size 1), x's strides
  Layout reduced;  // the reduced axes, x's strides
  Index count;     // elements per output
  ReduceOp op;

  MTTT_HD void operator()(Index o) const {
    const T* base = x + kept.offset(o);
    if (op == ReduceOp::sum) {
      T acc(0);
      for (Index r = 0; r < count; ++r) acc += base[reduced.offset(r)];
      out[o] = static_cast<O>(acc);
      return;
    }
    T best = base[reduced.offset(0)];
    Index at = 0;
    for (Index r = 1; r < count; ++r) {
      const T v = base[reduced.offset(r)];
      const bool better = (op == ReduceOp::max || op == ReduceOp::argmax) ? (v > best || (v != v && best == best))
                                                                          : (v < best || (v != v && best == best));
      if (better) best = v, at = r;
    }
    out[o] = (op == ReduceOp::argmax || op == ReduceOp::argmin) ? static_cast<O>(at) : static_cast<O>(best);
  }
};

}  // namespace thrust_backend

using namespace thrust_backend;

void ThrustBackend::reduce(ReduceOp op, const Tensor& x, std::uint32_t axes, const Tensor& out) {
  Shape kept_shape, reduced_shape;
  Strides kept_strides, reduced_strides;
  for (int i = 0; i < x.rank(); ++i) {
    const bool reduced = (axes >> i) & 1u;
    (reduced ? reduced_shape : kept_shape).push_back(x.shape()[i]);
    (reduced ? reduced_strides : kept_strides).push_back(x.strides()[i]);
  }
  const Index count = numel(reduced_shape);
  if (count == 0 && op != ReduceOp::sum)
    throw_error("reduce", to_string(x.shape()) + ": cannot take a max, min or arg over an empty axis");
  dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const Layout kept = make_layout(kept_shape, kept_strides), reduced = make_layout(reduced_shape, reduced_strides);
    if (out.dtype() == DType::int64 && x.dtype() != DType::int64)
      parallel_for(out.numel(), ReduceKernel<T, Index>{typed<T>(x), typed<Index>(out), kept, reduced, count, op});
    else
      parallel_for(out.numel(), ReduceKernel<T, T>{typed<T>(x), typed<T>(out), kept, reduced, count, op});
  });
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
