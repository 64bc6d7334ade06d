// The Thrust backend's kernels, included by each instantiation (thrust_host.cpp for the host's
// OpenMP system; a .cu for CUDA). Every kernel is a Thrust algorithm over a counting iterator
// whose functor reads strided inputs through Layouts; sums run in a fixed order per output
// element, so results do not depend on the thread count.
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

using namespace thrust_backend;

ThrustBackend::ThrustBackend(Device device, std::unique_ptr<RawAllocator> raw, Gemm gemm,
                             std::unique_ptr<DeviceStreams> streams)
    : device_(device),
      streams_(std::move(streams)),
      allocator_(std::move(raw), std::size_t{2} << 30, streams_.get()),
      gemm_(std::move(gemm)) {}

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
      thrust::copy(from, from + n, thrust::device_pointer_cast(typed<T>(dst)));
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
      const auto begin = thrust::device_pointer_cast(typed<T>(src));
      thrust::copy(begin, begin + n, to);
      return;
    }
    DeviceBuffer<T> staged(*this, n);
    Layout contiguous = make_layout(src.shape(), contiguous_strides(src.shape()));
    parallel_for(n, CopyKernel<T, T>{typed<T>(src), staged.data(), layout_of(src), contiguous});
    const auto begin = thrust::device_pointer_cast(staged.data());
    thrust::copy(begin, begin + n, to);
  });
}

// A program beyond the interpreter's limits (registers, inputs, outputs: a deep chain's
// second-order backward rule can be) runs one instruction at a time, each register a tensor of
// the output's shape, freed after its last use: more passes over memory, the same values.
void ThrustBackend::elementwise_by_instruction(const expr::Program& program, std::span<const Tensor> inputs,
                                               std::span<const Tensor> outs) {
  const auto& code = program.code();
  const Shape& shape = outs[0].shape();
  std::vector<std::size_t> last_use(code.size(), 0);
  for (std::size_t k = 0; k < code.size(); ++k)
    if (code[k].op != expr::OpCode::input && code[k].op != expr::OpCode::constant)
      for (std::int32_t operand : {code[k].a, code[k].b, code[k].c})
        if (operand >= 0) last_use[static_cast<std::size_t>(operand)] = k;
  for (std::int32_t output : program.outputs()) last_use[static_cast<std::size_t>(output)] = code.size();
  std::vector<Tensor> reg(code.size());  // inputs and computed registers; constants stay undefined
  // One instruction on registers (a copy of one register when `instr` is null), constants
  // inlined, into `out`.
  auto run_one = [&](const expr::Instr* instr, std::span<const std::int32_t> operands, const Tensor& out) {
    std::vector<expr::Instr> mini;
    std::vector<Tensor> mini_inputs;
    std::int32_t remapped[3] = {-1, -1, -1};
    for (std::size_t j = 0; j < operands.size(); ++j) {
      const expr::Instr& source = code[static_cast<std::size_t>(operands[j])];
      if (source.op == expr::OpCode::constant) {
        mini.push_back(source);
      } else {
        mini.push_back(expr::Instr{expr::OpCode::input, static_cast<std::int32_t>(mini_inputs.size())});
        mini_inputs.push_back(reg[static_cast<std::size_t>(operands[j])]);
      }
      remapped[j] = static_cast<std::int32_t>(mini.size() - 1);
    }
    if (instr) mini.push_back(expr::Instr{instr->op, remapped[0], remapped[1], remapped[2], instr->imm});
    const auto n = static_cast<int>(mini_inputs.size());
    const expr::Program one(std::move(mini), static_cast<std::int32_t>(instr ? operands.size() : 0), n);
    const Tensor single[1] = {out};
    elementwise(one, mini_inputs, single);
  };
  for (std::size_t k = 0; k < code.size(); ++k) {
    const expr::Instr& in = code[k];
    if (in.op == expr::OpCode::input) {
      reg[k] = inputs[static_cast<std::size_t>(in.a)];
    } else if (in.op != expr::OpCode::constant) {
      std::vector<std::int32_t> operands;
      for (std::int32_t operand : {in.a, in.b, in.c})
        if (operand >= 0) operands.push_back(operand);
      reg[k] = Tensor::empty(shape, outs[0].dtype(), device_);
      run_one(&in, operands, reg[k]);
    }
    for (std::int32_t operand : {in.a, in.b, in.c})  // free what no later instruction reads
      if (in.op != expr::OpCode::input && in.op != expr::OpCode::constant && operand >= 0 &&
          last_use[static_cast<std::size_t>(operand)] == k)
        reg[static_cast<std::size_t>(operand)] = Tensor();
  }
  for (std::size_t j = 0; j < outs.size(); ++j) {
    const std::int32_t output[1] = {program.outputs()[j]};
    run_one(nullptr, output, outs[j]);
  }
}

void ThrustBackend::elementwise(const expr::Program& program, std::span<const Tensor> inputs,
                                std::span<const Tensor> outs) {
  const auto& code = program.code();
  const auto& outputs = program.outputs();
  if (code.size() > static_cast<std::size_t>(kMaxRegisters) || inputs.size() > static_cast<std::size_t>(kMaxInputs) ||
      outputs.size() > static_cast<std::size_t>(kMaxOutputs))
    return elementwise_by_instruction(program, inputs, outs);
  const Shape& shape = outs[0].shape();
  const bool inline_program = code.size() <= static_cast<std::size_t>(kInlineInstructions);
  std::optional<DeviceBuffer<expr::Instr>> staged;
  if (!inline_program) staged.emplace(*this, code.data(), static_cast<Index>(code.size()));
  dispatch_dtype(outs[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    static_assert(sizeof(ProgramKernel<T>) <= 4096, "an elementwise kernel's arguments must fit CUDA's 4 KiB");
    ProgramKernel<T> kernel{};
    kernel.size = static_cast<int>(code.size());
    kernel.inline_program = inline_program;
    if (inline_program)
      std::copy(code.begin(), code.end(), kernel.inline_code);
    else
      kernel.code = staged->data();
    std::copy(outputs.begin(), outputs.end(), kernel.outputs);
    kernel.num_outputs = static_cast<int>(outputs.size());
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      if (!inputs[k].defined() || !program.reads(static_cast<int>(k))) continue;
      kernel.inputs[k] = typed<T>(inputs[k]);
      kernel.layouts[k] = broadcast_layout(inputs[k], shape);
    }
    for (std::size_t j = 0; j < outs.size(); ++j) kernel.outs[j] = typed<T>(outs[j]);
    parallel_for(outs[0].numel(), kernel);
  });
}

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

void ThrustBackend::softmax(const Tensor& x, int axis, bool log, const Tensor& out) {
  const AxisSplit sx = split_axis(x.shape(), x.strides(), axis), so = split_axis(out.shape(), out.strides(), axis);
  dispatch_floating(x.dtype(), "softmax", [&](auto zero) {
    using T = decltype(zero);
    parallel_for(numel(x.shape()) / std::max<Index>(sx.axis_size, 1),
                 SoftmaxKernel<T>{typed<T>(x), typed<T>(out), sx.rest, so.rest, sx.axis_size, sx.axis_stride,
                                  so.axis_stride, log});
  });
}

void ThrustBackend::layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps, const Tensor& out) {
  const int last = x.rank() - 1;
  const AxisSplit sx = split_axis(x.shape(), x.strides(), last);
  dispatch_floating(x.dtype(), "layer_norm", [&](auto zero) {
    using T = decltype(zero);
    LayerNormKernel<T> kernel{typed<T>(x),
                              scale.defined() ? typed<T>(scale) : nullptr,
                              bias.defined() ? typed<T>(bias) : nullptr,
                              typed<T>(out),
                              sx.rest,
                              sx.axis_size,
                              sx.axis_stride,
                              scale.defined() ? scale.strides()[0] : 0,
                              bias.defined() ? bias.strides()[0] : 0,
                              static_cast<T>(eps)};
    parallel_for(numel(x.shape()) / std::max<Index>(sx.axis_size, 1), kernel);
  });
}

void ThrustBackend::layer_norm_backward(const Tensor& x, const Tensor& gy, double eps, const Tensor& out) {
  const int last = x.rank() - 1;
  const AxisSplit sx = split_axis(x.shape(), x.strides(), last), sg = split_axis(gy.shape(), gy.strides(), last);
  dispatch_floating(x.dtype(), "layer_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    LayerNormBackwardKernel<T> kernel{typed<T>(x),     typed<T>(gy),   typed<T>(out),   sx.rest,
                                      sg.rest,         sx.axis_size,   sx.axis_stride,  sg.axis_stride,
                                      static_cast<T>(eps)};
    parallel_for(numel(x.shape()) / std::max<Index>(sx.axis_size, 1), kernel);
  });
}

void ThrustBackend::layer_norm_backward_vjp(const Tensor& x, const Tensor& gy, const Tensor& u, double eps,
                                            const Tensor& x_bar, const Tensor& gy_bar) {
  const int last = x.rank() - 1;
  const AxisSplit sx = split_axis(x.shape(), x.strides(), last), sg = split_axis(gy.shape(), gy.strides(), last),
                  su = split_axis(u.shape(), u.strides(), last);
  dispatch_floating(x.dtype(), "layer_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    LayerNormBackwardVjpKernel<T> kernel{typed<T>(x),
                                         typed<T>(gy),
                                         typed<T>(u),
                                         x_bar.defined() ? typed<T>(x_bar) : nullptr,
                                         gy_bar.defined() ? typed<T>(gy_bar) : nullptr,
                                         sx.rest,
                                         sg.rest,
                                         su.rest,
                                         sx.axis_size,
                                         sx.axis_stride,
                                         sg.axis_stride,
                                         su.axis_stride,
                                         static_cast<T>(eps)};
    parallel_for(numel(x.shape()) / std::max<Index>(sx.axis_size, 1), kernel);
  });
}

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
