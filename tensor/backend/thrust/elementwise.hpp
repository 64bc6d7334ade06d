// The Thrust backend's fused elementwise programs: one functor interprets a program per element
// (scalar_ops.hpp) on a register file sized to the program: registers are allocated on the host
// (registers.hpp) and the functor is instantiated for files of 8, 16, 32, 64 and 160 registers, so
// that a thread's file (local memory on CUDA) stays small enough to be cached. Programs beyond the
// limits run one instruction at a time.
#pragma once

#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/backend/thrust/launch.hpp"
#include "tensor/backend/thrust/registers.hpp"
#include "tensor/backend/thrust/scalar_ops.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

using mttt::thrust_backend::apply_op;
using mttt::thrust_backend::kNoRegister;
using mttt::thrust_backend::RegInstr;
using mttt::thrust_backend::RegisterProgram;
using mttt::thrust_backend::allocate_registers;

constexpr int kMaxRegisters = 160;  // the largest register file (sizes: launch_sized below)
constexpr int kMaxInputs = 16;
constexpr int kMaxOutputs = 8;
// Programs up to this many instructions travel inside the kernel's arguments (on CUDA, in its
// parameter space: no copy to device memory before the launch); longer ones (fused backward
// rules) are kept in device memory (device_program). The functor stays under CUDA's classic 4 KiB limit.
constexpr int kInlineInstructions = 24;

template <class T, int kRegisters> struct ProgramKernel {
  const RegInstr* code;  // staged program, when it is not inline
  int size;
  bool inline_program;
  RegInstr inline_code[kInlineInstructions];
  std::uint8_t outputs[kMaxOutputs];
  int num_outputs;
  const T* inputs[kMaxInputs];
  Layout layouts[kMaxInputs];
  T* outs[kMaxOutputs];

  MTTT_HD void operator()(Index i) const {
    T reg[kRegisters];
    const RegInstr* program = inline_program ? inline_code : code;
    for (int k = 0; k < size; ++k) {
      const RegInstr& in = program[k];
      T value;
      if (in.op == expr::OpCode::input) {
        value = inputs[in.a][layouts[in.a].offset(i)];
      } else if (in.op == expr::OpCode::constant) {
        value = static_cast<T>(in.imm);
      } else {
        value = apply_op<T>(in.op, in.imm, reg[in.a], in.b != kNoRegister ? reg[in.b] : T(0),
                            in.c != kNoRegister ? reg[in.c] : T(0));
      }
      reg[in.dest] = value;
    }
    for (int j = 0; j < num_outputs; ++j) outs[j][i] = reg[outputs[j]];
  }
};

}  // namespace thrust_backend

using namespace thrust_backend;

// A program beyond the interpreter's limits (more than 160 live values, inputs, outputs: a deep
// chain's second-order backward rule can be) runs one instruction at a time, each register a tensor of
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

namespace thrust_backend {

// Programs too long to travel inline, in device memory: each distinct program (keyed by its
// instructions) is uploaded once and kept, so that a launch copies nothing and a captured graph
// (tensor/graph.hpp) reads a program that stays put. Past 4,096 programs the cache starts again;
// a graph keeps the programs it captured alive. A program first met inside a capture cannot be
// uploaded there (a copy from host memory): the work is run once before it is captured.
struct ProgramCache {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<const void>> programs;
};

inline const RegInstr* device_program(ThrustBackend& backend, const std::vector<RegInstr>& code) {
  static ProgramCache* cache = new ProgramCache;  // never destroyed, as the backend
  std::string key(code.size() * 13, '\0');
  for (std::size_t k = 0; k < code.size(); ++k) {
    const RegInstr& in = code[k];
    char* at = key.data() + k * 13;
    at[0] = static_cast<char>(in.op);
    at[1] = static_cast<char>(in.dest);
    at[2] = static_cast<char>(in.a);
    at[3] = static_cast<char>(in.b);
    at[4] = static_cast<char>(in.c);
    std::memcpy(at + 5, &in.imm, sizeof(double));
  }
  std::lock_guard lock(cache->mutex);
  auto found = cache->programs.find(key);
  if (found == cache->programs.end()) {
    if (this_thread_capture())
      throw_error("elementwise",
                  "a fused program of " + std::to_string(code.size()) +
                      " instructions is first launched inside a graph capture, where it cannot be copied to the "
                      "device; run the captured work once before capturing it (a warm-up step)");
    if (cache->programs.size() >= 4096) cache->programs.clear();
    const std::size_t bytes = code.size() * sizeof(RegInstr);
    void* memory = backend.allocate(bytes);
    backend.upload(code.data(), memory, bytes);
    std::shared_ptr<const void> held(memory, [&backend, bytes](const void* p) { backend.deallocate(const_cast<void*>(p), bytes); });
    found = cache->programs.emplace(std::move(key), std::move(held)).first;
  }
  if (CaptureState* capture = this_thread_capture()) capture->keep.push_back(found->second);
  return static_cast<const RegInstr*>(found->second.get());
}

// What a launch of an allocated program needs.
struct ProgramLaunch {
  const expr::Program& program;
  const RegisterProgram& allocated;
  const RegInstr* staged;  // the code in device memory; null when it travels inline
  std::span<const Tensor> inputs, outs;
};

template <class T, int kRegisters> void launch_program(const ProgramLaunch& l) {
  static_assert(sizeof(ProgramKernel<T, kRegisters>) <= 4096,
                "an elementwise kernel's arguments must fit CUDA's 4 KiB");
  const Shape& shape = l.outs[0].shape();
  ProgramKernel<T, kRegisters> kernel{};
  kernel.size = static_cast<int>(l.allocated.code.size());
  kernel.inline_program = l.staged == nullptr;
  if (l.staged)
    kernel.code = l.staged;
  else
    std::copy(l.allocated.code.begin(), l.allocated.code.end(), kernel.inline_code);
  std::copy(l.allocated.outputs.begin(), l.allocated.outputs.end(), kernel.outputs);
  kernel.num_outputs = static_cast<int>(l.allocated.outputs.size());
  for (std::size_t k = 0; k < l.inputs.size(); ++k) {
    if (!l.inputs[k].defined() || !l.program.reads(static_cast<int>(k))) continue;
    kernel.inputs[k] = typed<T>(l.inputs[k]);
    kernel.layouts[k] = broadcast_layout(l.inputs[k], shape);
  }
  for (std::size_t j = 0; j < l.outs.size(); ++j) kernel.outs[j] = typed<T>(l.outs[j]);
  parallel_for(l.outs[0].numel(), kernel);
}

// The interpreter with the smallest register file of kFiles (ascending) that holds the program.
template <class T, int kFile, int... kLarger> void launch_sized(const ProgramLaunch& l) {
  if constexpr (sizeof...(kLarger) == 0) {
    static_assert(kFile == kMaxRegisters);
    launch_program<T, kFile>(l);
  } else {
    if (l.allocated.registers <= kFile) return launch_program<T, kFile>(l);
    launch_sized<T, kLarger...>(l);
  }
}

}  // namespace thrust_backend

void ThrustBackend::elementwise(const expr::Program& program, std::span<const Tensor> inputs,
                                std::span<const Tensor> outs) {
  if (inputs.size() > static_cast<std::size_t>(kMaxInputs) ||
      program.outputs().size() > static_cast<std::size_t>(kMaxOutputs))
    return elementwise_by_instruction(program, inputs, outs);
  const RegisterProgram allocated = allocate_registers(program, kMaxRegisters);
  if (allocated.registers > kMaxRegisters) return elementwise_by_instruction(program, inputs, outs);
  const Index size = static_cast<Index>(allocated.code.size());
  const RegInstr* staged = size > kInlineInstructions ? device_program(*this, allocated.code) : nullptr;
  const ProgramLaunch launch{program, allocated, staged, inputs, outs};
  dispatch_dtype(outs[0].dtype(), [&](auto zero) { launch_sized<decltype(zero), 8, 16, 32, 64, 160>(launch); });
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
