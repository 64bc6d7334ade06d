// The Thrust backend's kernels: functors over a counting iterator that read strided inputs
// through Layouts, and the helpers that launch them (parallel_for, parallel_reduce) on the current
// stream. Sums run in a fixed order per output element, so results do not depend on the thread
// count. Included by thrust_backend_impl.hpp for each instantiation (host OpenMP; CUDA).
#pragma once

#include <thrust/copy.h>
#include <thrust/device_ptr.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform_reduce.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "tensor/backend/thrust/layout.hpp"
#include "tensor/backend/thrust/scalar_ops.hpp"
#include "tensor/backend/thrust/thrust_backend.hpp"
#include "tensor/philox.hpp"
#include "tensor/error.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

using mttt::thrust_backend::Layout;
using mttt::thrust_backend::apply_op;
using mttt::thrust_backend::make_layout;
using mttt::thrust_backend::layout_of;
using Index = std::int64_t;

// Every kernel is launched here: on CUDA on the device's current stream (Thrust's `par` waits
// for it to finish, so results are ready when a kernel returns, as on the host).
template <class F> void parallel_for(Index n, F f) {
  if (n <= 0) return;
#if defined(__CUDACC__)
  const auto stream = reinterpret_cast<cudaStream_t>(current_stream({DeviceType::cuda, 0}).id);
  thrust::for_each_n(thrust::cuda::par.on(stream), thrust::counting_iterator<Index>(0), n, f);
#else
  thrust::for_each_n(thrust::device, thrust::counting_iterator<Index>(0), n, f);
#endif
}

// The reduction of f(0), ..., f(n - 1) with `combine`, from `init`, on the current stream.
template <class T, class F, class Combine> T parallel_reduce(Index n, F f, T init, Combine combine) {
  if (n <= 0) return init;
#if defined(__CUDACC__)
  const auto stream = reinterpret_cast<cudaStream_t>(current_stream({DeviceType::cuda, 0}).id);
  return thrust::transform_reduce(thrust::cuda::par.on(stream), thrust::counting_iterator<Index>(0),
                                  thrust::counting_iterator<Index>(n), f, init, combine);
#else
  return thrust::transform_reduce(thrust::device, thrust::counting_iterator<Index>(0),
                                  thrust::counting_iterator<Index>(n), f, init, combine);
#endif
}

template <class T> T* typed(const Tensor& t) { return static_cast<T*>(t.data_ptr()); }

// Scratch memory of the device from the backend's caching allocator (on its current stream),
// so that staging a transfer or an elementwise program never calls cudaMalloc. Kernels have
// finished when parallel_for returns, so the memory can go back when the buffer does.
template <class T> class DeviceBuffer {
 public:
  DeviceBuffer(Backend& backend, Index n)
      : backend_(backend), bytes_(static_cast<std::size_t>(std::max<Index>(n, 1)) * sizeof(T)),
        data_(static_cast<T*>(backend.allocate(bytes_))) {}
  // A copy of host memory.
  DeviceBuffer(Backend& backend, const T* host, Index n) : DeviceBuffer(backend, n) {
    if (n > 0) thrust::copy(host, host + n, thrust::device_pointer_cast(data_));
  }
  ~DeviceBuffer() { backend_.deallocate(data_, bytes_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* data() const { return data_; }

 private:
  Backend& backend_;
  std::size_t bytes_;
  T* data_;
};

// The layout of `t` broadcast to `shape`.
inline Layout broadcast_layout(const Tensor& t, const Shape& shape) {
  return make_layout(shape, broadcast_strides(t.shape(), t.strides(), shape));
}

// ---- copies ------------------------------------------------------------------------------
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

// ---- elementwise programs -----------------------------------------------------------------
constexpr int kMaxRegisters = 160;
constexpr int kMaxInputs = 16;
constexpr int kMaxOutputs = 8;
// Programs up to this many instructions travel inside the kernel's arguments (on CUDA, in its
// parameter space: no copy to device memory before the launch); longer ones (fused backward
// rules) are staged in device memory. The functor stays under CUDA's classic 4 KiB limit.
constexpr int kInlineInstructions = 24;

template <class T> struct ProgramKernel {
  const expr::Instr* code;  // staged program, when it is not inline
  int size;
  bool inline_program;
  expr::Instr inline_code[kInlineInstructions];
  std::int32_t outputs[kMaxOutputs];
  int num_outputs;
  const T* inputs[kMaxInputs];
  Layout layouts[kMaxInputs];
  T* outs[kMaxOutputs];

  MTTT_HD void operator()(Index i) const {
    T reg[kMaxRegisters];
    const expr::Instr* program = inline_program ? inline_code : code;
    for (int k = 0; k < size; ++k) {
      const expr::Instr& in = program[k];
      if (in.op == expr::OpCode::input) {
        reg[k] = inputs[in.a][layouts[in.a].offset(i)];
      } else if (in.op == expr::OpCode::constant) {
        reg[k] = static_cast<T>(in.imm);
      } else {
        reg[k] = apply_op<T>(in.op, in.imm, reg[in.a], in.b >= 0 ? reg[in.b] : T(0), in.c >= 0 ? reg[in.c] : T(0));
      }
    }
    for (int j = 0; j < num_outputs; ++j) outs[j][i] = reg[outputs[j]];
  }
};

// ---- reductions ---------------------------------------------------------------------------
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

// ---- rows: softmax and layer norm --------------------------------------------------------------
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

// A row's mean and reciprocal standard deviation (biased variance), in two passes (no cancellation).
template <class T> struct RowMoments {
  T mean, rstd;
};
template <class T> MTTT_HD RowMoments<T> row_moments(const T* in, Index length, Index stride, T eps) {
  T mean(0);
  for (Index j = 0; j < length; ++j) mean += in[j * stride];
  mean /= T(length);
  T var(0);
  for (Index j = 0; j < length; ++j) {
    const T c = in[j * stride] - mean;
    var += c * c;
  }
  var /= T(length);
  return {mean, T(1) / std::sqrt(var + eps)};
}

template <class T> struct LayerNormKernel {
  const T* x;
  const T* scale;  // may be null
  const T* bias;   // may be null
  T* out;
  Layout rows;
  Index length, stride, scale_stride, bias_stride;
  T eps;

  MTTT_HD void operator()(Index row) const {
    const T* in = x + rows.offset(row);
    T* o = out + row * length;
    const RowMoments<T> m = row_moments(in, length, stride, eps);
    const T mean = m.mean, r = m.rstd;
    for (Index j = 0; j < length; ++j) {
      T v = (in[j * stride] - mean) * r;
      if (scale) v *= scale[j * scale_stride];
      if (bias) v += bias[j * bias_stride];
      o[j] = v;
    }
  }
};

// layer_norm's input gradient without scale and bias: out = r (gy - mean(gy) - x-hat mean(gy x-hat)).
template <class T> struct LayerNormBackwardKernel {
  const T* x;
  const T* gy;
  T* out;
  Layout x_rows, gy_rows;
  Index length, x_stride, gy_stride;
  T eps;

  MTTT_HD void operator()(Index row) const {
    const T* in = x + x_rows.offset(row);
    const T* g = gy + gy_rows.offset(row);
    T* o = out + row * length;
    const RowMoments<T> m = row_moments(in, length, x_stride, eps);
    const T mean = m.mean, r = m.rstd;
    T m1(0), m2(0);
    for (Index j = 0; j < length; ++j) {
      const T gj = g[j * gy_stride];
      m1 += gj;
      m2 += gj * (in[j * x_stride] - mean) * r;
    }
    m1 /= T(length);
    m2 /= T(length);
    for (Index j = 0; j < length; ++j) o[j] = r * (g[j * gy_stride] - m1 - (in[j * x_stride] - mean) * r * m2);
  }
};

// layer_norm_backward's vjp for a cotangent u (the formulas of Backend::layer_norm_backward_vjp).
template <class T> struct LayerNormBackwardVjpKernel {
  const T* x;
  const T* gy;
  const T* u;
  T* x_bar;   // may be null
  T* gy_bar;  // may be null
  Layout x_rows, gy_rows, u_rows;
  Index length, x_stride, gy_stride, u_stride;
  T eps;

  MTTT_HD void operator()(Index row) const {
    const T* in = x + x_rows.offset(row);
    const T* g = gy + gy_rows.offset(row);
    const T* w = u + u_rows.offset(row);
    const RowMoments<T> m = row_moments(in, length, x_stride, eps);
    const T mean = m.mean, r = m.rstd;
    T m1(0), m2(0), u_mean(0), u_xhat(0), u_gy(0);
    for (Index j = 0; j < length; ++j) {
      const T xh = (in[j * x_stride] - mean) * r, gj = g[j * gy_stride], wj = w[j * u_stride];
      m1 += gj;
      m2 += gj * xh;
      u_mean += wj;
      u_xhat += wj * xh;
      u_gy += wj * gj;
    }
    const T n = T(length);
    m1 /= n;
    m2 /= n;
    u_mean /= n;
    u_xhat /= n;
    u_gy /= n;
    const T a = u_gy - m1 * u_mean - m2 * u_xhat;
    const T c_mean = -r * (m2 * u_mean + u_xhat * m1), c_xhat_mean = T(-2) * r * m2 * u_xhat;
    for (Index j = 0; j < length; ++j) {
      const T xh = (in[j * x_stride] - mean) * r, gj = g[j * gy_stride], wj = w[j * u_stride];
      if (gy_bar) gy_bar[row * length + j] = r * (wj - u_mean - xh * u_xhat);
      if (x_bar) {
        const T c = -r * (m2 * wj + u_xhat * gj);
        x_bar[row * length + j] = r * (c - c_mean - xh * c_xhat_mean) - r * r * a * xh;
      }
    }
  }
};

// ---- random numbers and ranges --------------------------------------------------------------
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

// ---- indexing -----------------------------------------------------------------------------
// Positions of a tensor with `axis` taken out, and that axis's stride: the unit the index
// ops move along.
struct AxisSplit {
  Layout rest;
  Index axis_stride = 0, axis_size = 0;
};
inline AxisSplit split_axis(const Shape& shape, const Strides& strides, int axis) {
  Shape s = shape;
  Strides st = strides;
  s.erase(axis);
  st.erase(axis);
  return {make_layout(s, st), strides[axis], shape[axis]};
}

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

// Index values checked before a kernel runs (a kernel cannot throw): the lowest and highest value
// are reduced on the device, so two numbers cross to the host, not the index (a broadcast index
// would have crossed at its full, expanded size). Messages are built without fmt, whose
// compile-time format checks nvcc cannot evaluate.
struct IndexRange {
  Index low, high;
};
struct IndexValue {
  const Index* data;
  Layout layout;
  MTTT_HD IndexRange operator()(Index i) const {
    const Index v = data[layout.offset(i)];
    return {v, v};
  }
};
struct WidenRange {
  MTTT_HD IndexRange operator()(IndexRange a, IndexRange b) const {
    return {a.low < b.low ? a.low : b.low, a.high > b.high ? a.high : b.high};
  }
};

inline void check_indices(const Tensor& index, Index size, const char* op) {
  const Index n = index.numel();
  if (n == 0) return;
  const IndexRange range = parallel_reduce(n, IndexValue{typed<Index>(index), layout_of(index)},
                                           IndexRange{std::numeric_limits<Index>::max(), std::numeric_limits<Index>::min()},
                                           WidenRange{});
  if (range.low >= 0 && range.high < size) return;
  const Index bad = range.low < 0 ? range.low : range.high;
  throw_error(op, "index " + std::to_string(bad) + " is out of range for an axis of size " + std::to_string(size));
}

}  // namespace thrust_backend

}  // namespace mttt::MTTT_THRUST_SYSTEM
