// The CPU interpreter of fusion programs. The output is cut into blocks of kBlock elements;
// for each block every instruction runs as one vectorised Eigen loop over the block, its
// register a small buffer that stays in L1 cache. Memory is read once per input and written
// once: that is the fusion. Inputs that are contiguous with the output are read in place;
// broadcast or strided ones are gathered into a buffer per block.
#include <algorithm>
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
  Shape s;
  std::vector<Strides> st(count);
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    bool merge = !s.empty();
    for (int k = 0; merge && k < count; ++k) merge = st[k].back() == strides[k][i] * shape[i];
    if (merge) {
      s[s.size() - 1] *= shape[i];
      for (int k = 0; k < count; ++k) st[k][st[k].size() - 1] = strides[k][i];
    } else {
      s.push_back(shape[i]);
      for (int k = 0; k < count; ++k) st[k].push_back(strides[k][i]);
    }
  }
  shape = s;
  for (int k = 0; k < count; ++k) strides[k] = st[k];
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
  int slot = -1;        // buffer index (gather, once, computed)
  const void* base = nullptr;  // direct and gather: the input's first element
  int input = -1;
};

template <class T>
void run_program(const expr::Program& program, const std::vector<Tensor>& inputs, const Tensor& out) {
  const auto& code = program.code();
  const std::int64_t n = out.numel();
  if (n == 0) return;
  T* out_data = out.data<T>();

  // Iteration shape: the output's, coalesced together with every input's broadcast strides.
  const int num_inputs = program.num_inputs();
  std::vector<Strides> strides(num_inputs + 1);
  strides[0] = contiguous_strides(out.shape());
  for (int k = 0; k < num_inputs; ++k)
    strides[k + 1] = inputs[k].defined() ? broadcast_strides(inputs[k].shape(), inputs[k].strides(), out.shape())
                                         : Dims::filled(out.rank(), 0);
  Shape shape = out.shape();
  cpu::coalesce(shape, strides.data(), num_inputs + 1);

  // Registers and buffer slots; a computed register's slot is freed after its last use.
  std::vector<std::int32_t> last_use(code.size(), -1);
  for (std::int32_t i = 0; i < static_cast<std::int32_t>(code.size()); ++i)
    for (std::int32_t r : {code[i].a, code[i].b, code[i].c})
      if (r >= 0 && code[i].op != OpCode::input) last_use[r] = i;
  std::vector<Register> regs(code.size());
  std::vector<int> free_slots;
  int slots = 0;
  auto new_slot = [&] {
    if (!free_slots.empty()) {
      int s = free_slots.back();
      free_slots.pop_back();
      return s;
    }
    return slots++;
  };
  for (std::int32_t i = 0; i < static_cast<std::int32_t>(code.size()); ++i) {
    const Instr& in = code[i];
    Register& r = regs[i];
    if (in.op == OpCode::input) {
      const Tensor& x = inputs[in.a];
      r.input = in.a;
      r.base = x.data<T>();
      const Strides& s = strides[in.a + 1];
      bool zero = std::all_of(s.begin(), s.end(), [](std::int64_t v) { return v == 0; });
      r.source = zero ? Source::once : s == strides[0] ? Source::direct : Source::gather;
      if (r.source != Source::direct) r.slot = slots++;  // never freed: inputs are loaded before compute
      continue;
    }
    if (in.op == OpCode::constant) {
      r.source = Source::once;
      r.slot = slots++;
      continue;
    }
    const std::int32_t operands[3] = {in.a, in.b, in.c};
    for (int j = 0; j < 3; ++j) {
      std::int32_t operand = operands[j];
      bool repeated = (j > 0 && operand == operands[0]) || (j > 1 && operand == operands[1]);
      if (operand >= 0 && !repeated && last_use[operand] == i && regs[operand].source == Source::computed)
        free_slots.push_back(regs[operand].slot);
    }
    if (i == program.output()) continue;  // writes straight into the output
    r.slot = new_slot();
  }

  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  const bool parallel = n >= kParallelThreshold && num_threads() > 1;
#pragma omp parallel if (parallel)
  {
    // 64-byte aligned: Eigen peels unaligned heads with scalar code, and its scalar and packet
    // transcendental functions differ in the last bit, so alignment must not vary between runs.
    std::vector<T, Eigen::aligned_allocator<T>> buffer(static_cast<std::size_t>(std::max(slots, 1)) * kBlock);
    std::vector<std::int64_t> offsets(kBlock);
    auto slot_data = [&](int s) { return buffer.data() + static_cast<std::int64_t>(s) * kBlock; };
    for (std::int32_t i = 0; i < static_cast<std::int32_t>(code.size()); ++i) {
      const Register& r = regs[i];
      if (r.source != Source::once) continue;
      T value = code[i].op == OpCode::constant ? static_cast<T>(code[i].imm) : *static_cast<const T*>(r.base);
      std::fill_n(slot_data(r.slot), kBlock, value);
    }
    std::vector<cpu::StridedWalk> walks;
    for (int k = 0; k <= num_inputs; ++k) walks.emplace_back(shape, strides[k]);
    std::vector<const T*> ptr(code.size());

#pragma omp for schedule(static)
    for (std::int64_t block = 0; block < blocks; ++block) {
      const std::int64_t start = block * kBlock;
      const std::int64_t count = std::min(kBlock, n - start);
      for (std::int32_t i = 0; i < static_cast<std::int32_t>(code.size()); ++i) {
        const Register& r = regs[i];
        const Instr& in = code[i];
        if (r.source == Source::direct) {
          ptr[i] = static_cast<const T*>(r.base) + start;
        } else if (r.source == Source::once) {
          ptr[i] = slot_data(r.slot);
        } else if (r.source == Source::gather) {
          walks[r.input + 1].offsets(start, count, offsets.data());
          T* dst = slot_data(r.slot);
          const T* src = static_cast<const T*>(r.base);
          for (std::int64_t e = 0; e < count; ++e) dst[e] = src[offsets[e]];
          ptr[i] = dst;
        } else {
          T* dst = i == program.output() ? out_data + start : slot_data(r.slot);
          run_instr<T>(in, count, dst, ptr[in.a], in.b >= 0 ? ptr[in.b] : nullptr, in.c >= 0 ? ptr[in.c] : nullptr);
          ptr[i] = dst;
        }
      }
      const T* result = ptr[program.output()];
      if (result != out_data + start) std::copy_n(result, count, out_data + start);
    }
  }
}

}  // namespace

void CpuBackend::elementwise(const expr::Program& program, const std::vector<Tensor>& inputs, const Tensor& out) {
  dispatch_dtype(out.dtype(), [&](auto zero) { run_program<decltype(zero)>(program, inputs, out); });
}

}  // namespace mttt
