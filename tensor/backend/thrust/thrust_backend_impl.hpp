// The Thrust backend's methods, included by each instantiation (thrust_host.cpp for the host's
// OpenMP system; a .cu for CUDA): each checks what a kernel cannot, picks the dtype and launches
// one of the functors of kernels.hpp.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "tensor/backend/thrust/kernels.hpp"
#include "tensor/backend/thrust/thrust_backend.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

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
