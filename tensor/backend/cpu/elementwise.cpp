// The CPU interpreter of fusion programs. The output is cut into blocks of kBlock elements;
// for each block every instruction runs as one vectorised Eigen loop over the block, its
// register a small buffer that stays in L1 cache. Memory is read once per input and written
// once per output: that is the fusion. Inputs that are contiguous with the output are read in
// place; broadcast or strided ones are gathered into a buffer per block. A program with several
// outputs (a joint vjp) writes each of them in the same pass.
//
// Kernels on a few elements (the tape of a scalar loop) cost what their bookkeeping costs: the
// plan and the block buffers live in per-thread scratch that is reused, so such a call allocates
// nothing, and no parallel region is opened below kParallelThreshold.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>
#include <type_traits>

#include <Eigen/Core>
#include <omp.h>
#include <unsupported/Eigen/SpecialFunctions>

#include "tensor/backend/cpu/cpu_backend.hpp"
#include "tensor/backend/cpu/strided.hpp"
#include "tensor/runtime.hpp"

namespace mttt {

namespace cpu {

void coalesce(Shape& shape, Strides* strides, int count) {
  // In place: axis `kept` is written only after axis i >= kept has been read.
  int kept = 0;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    bool merge = kept > 0;
    for (int k = 0; merge && k < count; ++k) merge = strides[k][kept - 1] == strides[k][i] * shape[i];
    if (merge) {
      shape[kept - 1] *= shape[i];
      for (int k = 0; k < count; ++k) strides[k][kept - 1] = strides[k][i];
    } else {
      shape[kept] = shape[i];
      for (int k = 0; k < count; ++k) strides[k][kept] = strides[k][i];
      ++kept;
    }
  }
  while (shape.size() > kept) shape.erase(shape.size() - 1);
  for (int k = 0; k < count; ++k)
    while (strides[k].size() > kept) strides[k].erase(strides[k].size() - 1);
}

}  // namespace cpu

namespace {

using expr::Instr;
using expr::OpCode;
constexpr std::int64_t kBlock = 256;

template <class T> using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
template <class T> using Map = Eigen::Map<Array<T>>;
template <class T> using ConstMap = Eigen::Map<const Array<T>>;

// One instruction over n elements: o = op(a, b, c).
template <class T> void run_instr(const Instr& in, std::int64_t n, T* o, const T* a, const T* b, const T* c) {
  Map<T> out(o, n);
  ConstMap<T> x(a, n);
  auto y = [&] { return ConstMap<T>(b, n); };
  const T one(1), zero(0);
  switch (in.op) {
    case OpCode::neg: out = -x; return;
    case OpCode::abs: out = x.abs(); return;
    case OpCode::sign: out = x.sign(); return;
    case OpCode::relu: out = x.max(zero); return;
    case OpCode::step: out = (x > zero).select(Array<T>::Constant(n, one), Array<T>::Constant(n, zero)); return;
    case OpCode::square: out = x.square(); return;
    case OpCode::add: out = x + y(); return;
    case OpCode::sub: out = x - y(); return;
    case OpCode::mul: out = x * y(); return;
    case OpCode::maximum: out = (x >= y()).select(x, y()); return;
    case OpCode::minimum: out = (x <= y()).select(x, y()); return;
    case OpCode::eq: out = (x == y()).template cast<T>(); return;
    case OpCode::ne: out = (x != y()).template cast<T>(); return;
    case OpCode::lt: out = (x < y()).template cast<T>(); return;
    case OpCode::le: out = (x <= y()).template cast<T>(); return;
    case OpCode::gt: out = (x > y()).template cast<T>(); return;
    case OpCode::ge: out = (x >= y()).template cast<T>(); return;
    case OpCode::where: out = (x != zero).select(y(), ConstMap<T>(c, n)); return;
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    constexpr T kSqrt2OverPi = T(0.7978845608028654);
    switch (in.op) {
      case OpCode::exp: out = x.exp(); return;
      case OpCode::expm1: out = x.expm1(); return;
      case OpCode::log: out = x.log(); return;
      case OpCode::log1p: out = x.log1p(); return;
      case OpCode::sqrt: out = x.sqrt(); return;
      case OpCode::rsqrt: out = x.rsqrt(); return;
      case OpCode::tanh: out = x.tanh(); return;
      case OpCode::sigmoid: out = x.logistic(); return;
      case OpCode::elu: out = (x > zero).select(x, T(in.imm) * x.expm1()); return;
      case OpCode::gelu_tanh: out = T(0.5) * x * (one + (kSqrt2OverPi * (x + T(0.044715) * x.cube())).tanh()); return;
      case OpCode::gelu_erf: out = T(0.5) * x * (one + (x * T(M_SQRT1_2)).erf()); return;
      case OpCode::erf: out = x.erf(); return;
      case OpCode::sin: out = x.sin(); return;
      case OpCode::cos: out = x.cos(); return;
      case OpCode::reciprocal: out = x.inverse(); return;
      case OpCode::div: out = x / y(); return;
      case OpCode::pow: out = x.pow(y()); return;
      default: break;
    }
  }
  throw_error(expr::name(in.op), "internal error: no CPU kernel for this opcode and element type");
}

enum class Source : std::uint8_t { direct, gather, once, computed };

struct Register {
  Source source = Source::computed;
  int slot = -1;               // buffer index (gather, once, computed unless written to an output)
  const void* base = nullptr;  // direct and gather: the input's first element
  int input = -1;
  int output = -1;  // computed registers that are an output: written straight into outs[output]
};

// Slots hold a block each, start 64-byte aligned and span a multiple of 16 elements, so Eigen
// never peels scalar iterations at a slot's start (its scalar and packet exp, tanh, ... differ
// in the last bit): an instruction's values depend on the element's position in its block only,
// never on where the buffer was allocated (runs are bit-identical) nor on which slot its register
// was given (a joint vjp and the separate vjp programs agree to the bit).
constexpr std::int64_t kSlotAlign = 16;

// Decided once per call on the calling thread, read by every thread of the region.
struct Plan {
  std::vector<Strides> strides;  // [0]: the outputs'; [k + 1]: input k broadcast
  Shape shape;                   // iteration shape, coalesced
  std::vector<std::int32_t> last_use;
  std::vector<Register> regs;
  std::vector<int> free_slots;
  std::vector<void*> outs;
  int slots = 0;
  bool any_gather = false;
};

// Not inlined: callers then hold one plain reference, where GCC would otherwise propagate the
// thread_local's address into make_plan and look it up (__tls_get_addr) at every access.
[[gnu::noinline]] Plan& thread_plan() {
  thread_local Plan plan;
  return plan;
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// Per executing thread: the block buffers and walk state.
template <class T> struct Scratch {
  std::unique_ptr<T, FreeDeleter> buffer;
  std::size_t capacity = 0;
  std::vector<const T*> ptr;
  std::vector<cpu::StridedWalk> walks;

  T* reserve(std::size_t elements) {
    if (elements > capacity) {
      std::size_t bytes = (std::max<std::size_t>(elements, 1) * sizeof(T) + 63) / 64 * 64;
      buffer.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
      if (!buffer) throw std::bad_alloc();
      capacity = elements;
    }
    return buffer.get();
  }
};

template <class T> [[gnu::noinline]] Scratch<T>& thread_scratch() {
  thread_local Scratch<T> scratch;
  return scratch;
}

void make_plan(Plan& plan, const expr::Program& program, std::span<const Tensor> inputs, const Tensor& out) {
  const auto& code = program.code();
  const int num_inputs = program.num_inputs();
  // The common case, every input read contiguous with the output's shape, needs no strides.
  bool all_direct = true;
  for (int k = 0; k < num_inputs && all_direct; ++k)
    all_direct = !program.reads(k) || (inputs[k].shape() == out.shape() && inputs[k].is_contiguous());
  if (!all_direct) {
    plan.strides.resize(num_inputs + 1);
    plan.strides[0] = contiguous_strides(out.shape());
    for (int k = 0; k < num_inputs; ++k)
      plan.strides[k + 1] = inputs[k].defined() ? broadcast_strides(inputs[k].shape(), inputs[k].strides(), out.shape())
                                                : Dims::filled(out.rank(), 0);
    plan.shape = out.shape();
    cpu::coalesce(plan.shape, plan.strides.data(), num_inputs + 1);
  }

  // Registers and buffer slots; a computed register's slot is freed after its last use.
  const std::int32_t size = static_cast<std::int32_t>(code.size());
  plan.last_use.assign(code.size(), -1);
  for (std::int32_t i = 0; i < size; ++i)
    for (std::int32_t r : {code[i].a, code[i].b, code[i].c})
      if (r >= 0 && code[i].op != OpCode::input) plan.last_use[r] = i;
  plan.regs.assign(code.size(), Register{});
  const auto& outputs = program.outputs();
  for (std::size_t j = 0; j < outputs.size(); ++j) {
    const OpCode op = code[outputs[j]].op;
    Register& r = plan.regs[outputs[j]];
    if (op != OpCode::input && op != OpCode::constant && r.output < 0) r.output = static_cast<int>(j);
  }
  plan.free_slots.clear();
  plan.slots = 0;
  plan.any_gather = false;
  auto new_slot = [&] {
    if (!plan.free_slots.empty()) {
      int s = plan.free_slots.back();
      plan.free_slots.pop_back();
      return s;
    }
    return plan.slots++;
  };
  for (std::int32_t i = 0; i < size; ++i) {
    const Instr& in = code[i];
    Register& r = plan.regs[i];
    if (in.op == OpCode::input) {
      const Tensor& x = inputs[in.a];
      r.input = in.a;
      r.base = x.data_ptr();
      if (all_direct) {
        r.source = Source::direct;
        continue;
      }
      const Strides& s = plan.strides[in.a + 1];
      bool zero = std::all_of(s.begin(), s.end(), [](std::int64_t v) { return v == 0; });
      r.source = zero ? Source::once : s == plan.strides[0] ? Source::direct : Source::gather;
      plan.any_gather = plan.any_gather || r.source == Source::gather;
      if (r.source != Source::direct) r.slot = plan.slots++;  // never freed: inputs are loaded before compute
      continue;
    }
    if (in.op == OpCode::constant) {
      r.source = Source::once;
      r.slot = plan.slots++;
      continue;
    }
    const std::int32_t operands[3] = {in.a, in.b, in.c};
    for (int j = 0; j < 3; ++j) {
      std::int32_t operand = operands[j];
      bool repeated = (j > 0 && operand == operands[0]) || (j > 1 && operand == operands[1]);
      if (operand >= 0 && !repeated && plan.last_use[operand] == i && plan.regs[operand].source == Source::computed &&
          plan.regs[operand].slot >= 0)
        plan.free_slots.push_back(plan.regs[operand].slot);
    }
    if (r.output >= 0) continue;  // writes straight into its output
    r.slot = new_slot();
  }
}

template <class T>
void run_program(const expr::Program& program, std::span<const Tensor> inputs, std::span<const Tensor> outs) {
  const auto& code = program.code();
  const auto& outputs = program.outputs();
  const Tensor& out = outs[0];
  const std::int64_t n = out.numel();
  if (n == 0) return;
  Plan& plan = thread_plan();
  make_plan(plan, program, inputs, out);
  plan.outs.resize(outs.size());
  for (std::size_t j = 0; j < outs.size(); ++j) plan.outs[j] = outs[j].template data<T>();

  const std::int64_t block = n >= kBlock ? kBlock : (n + kSlotAlign - 1) / kSlotAlign * kSlotAlign;
  const std::int64_t blocks = (n + block - 1) / block;
  const int num_inputs = program.num_inputs();
  const std::int32_t size = static_cast<std::int32_t>(code.size());

  auto work = [&](std::int64_t first_block, std::int64_t end_block) {
    Scratch<T>& scratch = thread_scratch<T>();
    T* buffer = scratch.reserve(static_cast<std::size_t>(plan.slots * block));
    auto slot_data = [&](int s) { return buffer + static_cast<std::int64_t>(s) * block; };
    for (std::int32_t i = 0; i < size; ++i) {
      const Register& r = plan.regs[i];
      if (r.source != Source::once) continue;
      T value = code[i].op == OpCode::constant ? static_cast<T>(code[i].imm) : *static_cast<const T*>(r.base);
      std::fill_n(slot_data(r.slot), block, value);
    }
    if (plan.any_gather) {
      scratch.walks.clear();
      for (int k = 0; k <= num_inputs; ++k) scratch.walks.emplace_back(plan.shape, plan.strides[k]);
    }
    scratch.ptr.resize(code.size());
    const T** ptr = scratch.ptr.data();

    for (std::int64_t b = first_block; b < end_block; ++b) {
      const std::int64_t start = b * block;
      const std::int64_t count = std::min(block, n - start);
      for (std::int32_t i = 0; i < size; ++i) {
        const Register& r = plan.regs[i];
        const Instr& in = code[i];
        if (r.source == Source::direct) {
          ptr[i] = static_cast<const T*>(r.base) + start;
        } else if (r.source == Source::once) {
          ptr[i] = slot_data(r.slot);
        } else if (r.source == Source::gather) {
          T* dst = slot_data(r.slot);
          scratch.walks[r.input + 1].gather(static_cast<const T*>(r.base), start, count, dst);
          ptr[i] = dst;
        } else {
          T* dst = r.output >= 0 ? static_cast<T*>(plan.outs[r.output]) + start : slot_data(r.slot);
          run_instr<T>(in, count, dst, ptr[in.a], in.b >= 0 ? ptr[in.b] : nullptr, in.c >= 0 ? ptr[in.c] : nullptr);
          ptr[i] = dst;
        }
      }
      // Outputs that are inputs, constants or a register another output already holds.
      for (std::size_t j = 0; j < outputs.size(); ++j) {
        T* dst = static_cast<T*>(plan.outs[j]) + start;
        if (ptr[outputs[j]] != dst) std::copy_n(ptr[outputs[j]], count, dst);
      }
    }
  };

  if (n >= kParallelThreshold && num_threads() > 1) {
#pragma omp parallel
    {
      // Contiguous ranges of blocks, as schedule(static) would give.
      const std::int64_t threads = omp_get_num_threads(), id = omp_get_thread_num();
      const std::int64_t base = blocks / threads, extra = blocks % threads;
      const std::int64_t first = id * base + std::min(id, extra);
      work(first, first + base + (id < extra ? 1 : 0));
    }
  } else {
    work(0, blocks);
  }
}

}  // namespace

void CpuBackend::elementwise(const expr::Program& program, std::span<const Tensor> inputs,
                             std::span<const Tensor> outs) {
  counters_.launch();
  dispatch_dtype(outs[0].dtype(), [&](auto zero) { run_program<decltype(zero)>(program, inputs, outs); });
}

}  // namespace mttt
