#include "tensor/expr/program.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

namespace mttt::expr {

namespace {

struct OpInfo {
  const char* name;
  int arity;
  bool floating_only;
};

OpInfo info(OpCode op) {
  switch (op) {
    case OpCode::input: return {"input", 0, false};
    case OpCode::constant: return {"constant", 0, false};
    case OpCode::neg: return {"neg", 1, false};
    case OpCode::exp: return {"exp", 1, true};
    case OpCode::log: return {"log", 1, true};
    case OpCode::sqrt: return {"sqrt", 1, true};
    case OpCode::rsqrt: return {"rsqrt", 1, true};
    case OpCode::abs: return {"abs", 1, false};
    case OpCode::sign: return {"sign", 1, false};
    case OpCode::tanh: return {"tanh", 1, true};
    case OpCode::sigmoid: return {"sigmoid", 1, true};
    case OpCode::relu: return {"relu", 1, false};
    case OpCode::step: return {"step", 1, false};
    case OpCode::elu: return {"elu", 1, true};
    case OpCode::gelu_tanh: return {"gelu_tanh", 1, true};
    case OpCode::gelu_erf: return {"gelu_erf", 1, true};
    case OpCode::erf: return {"erf", 1, true};
    case OpCode::sin: return {"sin", 1, true};
    case OpCode::cos: return {"cos", 1, true};
    case OpCode::reciprocal: return {"reciprocal", 1, true};
    case OpCode::square: return {"square", 1, false};
    case OpCode::expm1: return {"expm1", 1, true};
    case OpCode::log1p: return {"log1p", 1, true};
    case OpCode::add: return {"add", 2, false};
    case OpCode::sub: return {"sub", 2, false};
    case OpCode::mul: return {"mul", 2, false};
    case OpCode::div: return {"div", 2, true};
    case OpCode::pow: return {"pow", 2, true};
    case OpCode::maximum: return {"maximum", 2, false};
    case OpCode::minimum: return {"minimum", 2, false};
    case OpCode::eq: return {"eq", 2, false};
    case OpCode::ne: return {"ne", 2, false};
    case OpCode::lt: return {"lt", 2, false};
    case OpCode::le: return {"le", 2, false};
    case OpCode::gt: return {"gt", 2, false};
    case OpCode::ge: return {"ge", 2, false};
    case OpCode::where: return {"where", 3, false};
  }
  return {"?", 0, false};
}

}  // namespace

const char* name(OpCode op) { return info(op).name; }
int arity(OpCode op) { return info(op).arity; }
bool floating_only(OpCode op) { return info(op).floating_only; }

double evaluate(OpCode op, double a, double b, double c, double imm) {
  constexpr double kSqrt2OverPi = 0.7978845608028654;
  switch (op) {
    case OpCode::input: return a;
    case OpCode::constant: return imm;
    case OpCode::neg: return -a;
    case OpCode::exp: return std::exp(a);
    case OpCode::log: return std::log(a);
    case OpCode::sqrt: return std::sqrt(a);
    case OpCode::rsqrt: return 1 / std::sqrt(a);
    case OpCode::abs: return std::abs(a);
    case OpCode::sign: return (a > 0) - (a < 0);
    case OpCode::tanh: return std::tanh(a);
    case OpCode::sigmoid: return 1 / (1 + std::exp(-a));
    case OpCode::relu: return a > 0 ? a : 0;
    case OpCode::step: return a > 0 ? 1 : 0;
    case OpCode::elu: return a > 0 ? a : imm * std::expm1(a);
    case OpCode::gelu_tanh: return 0.5 * a * (1 + std::tanh(kSqrt2OverPi * (a + 0.044715 * a * a * a)));
    case OpCode::gelu_erf: return 0.5 * a * (1 + std::erf(a * M_SQRT1_2));
    case OpCode::erf: return std::erf(a);
    case OpCode::sin: return std::sin(a);
    case OpCode::cos: return std::cos(a);
    case OpCode::reciprocal: return 1 / a;
    case OpCode::square: return a * a;
    case OpCode::expm1: return std::expm1(a);
    case OpCode::log1p: return std::log1p(a);
    case OpCode::add: return a + b;
    case OpCode::sub: return a - b;
    case OpCode::mul: return a * b;
    case OpCode::div: return a / b;
    case OpCode::pow: return std::pow(a, b);
    case OpCode::maximum: return a >= b ? a : b;
    case OpCode::minimum: return a <= b ? a : b;
    case OpCode::eq: return a == b;
    case OpCode::ne: return a != b;
    case OpCode::lt: return a < b;
    case OpCode::le: return a <= b;
    case OpCode::gt: return a > b;
    case OpCode::ge: return a >= b;
    case OpCode::where: return a != 0 ? b : c;
  }
  return 0;
}

Program::Program(std::vector<Instr> code, std::int32_t output, int num_inputs)
    : Program(std::move(code), std::vector<std::int32_t>{output}, num_inputs) {}

Program::Program(std::vector<Instr> code, std::vector<std::int32_t> outputs, int num_inputs)
    : code_(std::move(code)), outputs_(std::move(outputs)), num_inputs_(num_inputs), reads_(num_inputs, 0),
      vjp_cache_(num_inputs), vjp_ready_(num_inputs) {
  // Computed once here: apply_program asks for them on every call.
  for (const auto& instr : code_) {
    if (instr.op == OpCode::input) reads_[instr.a] = 1;
    else compute_count_ += instr.op != OpCode::constant;
  }
  if (compute_count_ == 1 && outputs_.size() == 1) op_name_ = name(code_[outputs_.front()].op);
}

bool Program::is_zero() const {
  const Instr& out = code_[output()];
  return out.op == OpCode::constant && out.imm == 0;
}

std::string Program::describe() const {
  std::vector<std::string> text(code_.size());
  for (std::size_t i = 0; i < code_.size(); ++i) {
    const Instr& in = code_[i];
    switch (arity(in.op)) {
      case 0: text[i] = in.op == OpCode::input ? fmt::format("x{}", in.a) : fmt::format("{:g}", in.imm); break;
      case 1:
        text[i] = in.op == OpCode::elu ? fmt::format("elu({}, {:g})", text[in.a], in.imm)
                                       : fmt::format("{}({})", name(in.op), text[in.a]);
        break;
      case 2: text[i] = fmt::format("{}({}, {})", name(in.op), text[in.a], text[in.b]); break;
      default: text[i] = fmt::format("{}({}, {}, {})", name(in.op), text[in.a], text[in.b], text[in.c]);
    }
  }
  return text[output()];
}

const ProgramPtr& Program::vjp(int k) const {
  if (vjp_ready_[k].load(std::memory_order_acquire)) return vjp_cache_[k];
  if (outputs_.size() != 1) throw std::logic_error("[vjp] internal error: a multi-output program has no single vjp");
  std::lock_guard lock(cache_mutex_);
  if (!vjp_cache_[k]) {
    vjp_cache_[k] = build_vjp(*this, k);
    vjp_ready_[k].store(true, std::memory_order_release);
  }
  return vjp_cache_[k];
}

const JointVjp& Program::joint_vjp(std::uint64_t mask) const {
  {
    std::lock_guard lock(cache_mutex_);
    for (const auto& [m, joint] : joint_cache_)
      if (m == mask) return *joint;
  }
  // Each vjp program is replayed into one builder: its common-subexpression elimination merges
  // what the cotangents share, and every output is computed by the very instructions of its
  // own vjp program, so the values are those of the separate programs.
  auto joint = std::make_unique<JointVjp>();
  Builder b(num_inputs_ + 1);
  std::vector<std::int32_t> outputs;
  for (int k = 0; k < num_inputs_ && k < 64; ++k) {
    if (!((mask >> k) & 1u)) continue;
    const ProgramPtr& single = vjp(k);
    if (single->is_zero()) continue;
    std::vector<std::int32_t> reg(single->code().size());
    for (std::size_t i = 0; i < reg.size(); ++i) {
      const Instr& in = single->code()[i];
      if (in.op == OpCode::input) reg[i] = b.input(in.a);
      else if (in.op == OpCode::constant) reg[i] = b.constant(in.imm);
      else reg[i] = b.op(in.op, reg[in.a], in.b >= 0 ? reg[in.b] : -1, in.c >= 0 ? reg[in.c] : -1, in.imm);
    }
    outputs.push_back(reg[single->output()]);
    joint->inputs.push_back(k);
  }
  if (!outputs.empty()) joint->program = b.finish(outputs);
  std::lock_guard lock(cache_mutex_);
  for (const auto& [m, existing] : joint_cache_)
    if (m == mask) return *existing;  // another thread built it meanwhile
  joint_cache_.emplace_back(mask, std::move(joint));
  return *joint_cache_.back().second;
}

namespace {

struct InternTable {
  std::mutex mutex;
  std::unordered_multimap<std::size_t, ProgramPtr> programs;
};

InternTable& intern_table() {
  static InternTable* table = new InternTable;  // outlives every static tensor
  return *table;
}

}  // namespace

std::size_t interned_programs() {
  InternTable& table = intern_table();
  std::lock_guard lock(table.mutex);
  return table.programs.size();
}

ProgramPtr intern(std::vector<Instr> code, std::vector<std::int32_t> outputs, int num_inputs) {
  InternTable* table = &intern_table();
  std::size_t hash = std::size_t(num_inputs) << 20;
  for (std::int32_t output : outputs) hash = hash * 31 + std::hash<std::int64_t>()(output);
  for (const auto& in : code) {
    std::size_t h = (std::size_t(in.op) | (std::size_t(std::uint32_t(in.a)) << 8)) ^
                    (std::size_t(std::uint32_t(in.b)) << 24) ^ (std::size_t(std::uint32_t(in.c)) << 40) ^
                    std::hash<double>()(in.imm);
    hash ^= h + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  }
  std::lock_guard lock(table->mutex);
  auto [begin, end] = table->programs.equal_range(hash);
  for (auto it = begin; it != end; ++it) {
    const Program& p = *it->second;
    if (p.outputs() == outputs && p.num_inputs() == num_inputs && p.code() == code) return it->second;
  }
  if (table->programs.size() > 4096) table->programs.clear();
  auto program = std::make_shared<const Program>(std::move(code), std::move(outputs), num_inputs);
  table->programs.emplace(hash, program);
  return program;
}

std::int32_t Builder::input(int k) { return emit({OpCode::input, k}); }

std::int32_t Builder::constant(double value) {
  Instr in{OpCode::constant};
  in.imm = value;
  return emit(in);
}

bool Builder::is_constant(std::int32_t reg, double value) const {
  return code_[reg].op == OpCode::constant && code_[reg].imm == value;
}

std::int32_t Builder::op(OpCode op, std::int32_t a, std::int32_t b, std::int32_t c, double imm) {
  auto is_const = [&](std::int32_t r) { return r >= 0 && code_[r].op == OpCode::constant; };
  // Constant folding.
  int n = arity(op);
  if (is_const(a) && (n < 2 || is_const(b)) && (n < 3 || is_const(c)))
    return constant(evaluate(op, code_[a].imm, n >= 2 ? code_[b].imm : 0, n >= 3 ? code_[c].imm : 0, imm));
  // Identities that keep derivative programs small. A zero here is a symbolic zero of a
  // derivative (as JAX's): 0 * x is taken to be 0 even where x is infinite.
  switch (op) {
    case OpCode::add:
      if (is_constant(a, 0)) return b;
      if (is_constant(b, 0)) return a;
      break;
    case OpCode::sub:
      if (is_constant(b, 0)) return a;
      if (is_constant(a, 0)) return this->op(OpCode::neg, b);
      break;
    case OpCode::mul:
      if (is_constant(a, 1)) return b;
      if (is_constant(b, 1)) return a;
      if (is_constant(a, 0) || is_constant(b, 0)) return constant(0);
      if (is_constant(a, -1)) return this->op(OpCode::neg, b);
      if (is_constant(b, -1)) return this->op(OpCode::neg, a);
      break;
    case OpCode::div:
      if (is_constant(b, 1)) return a;
      if (is_constant(a, 0)) return constant(0);
      break;
    case OpCode::neg:
      if (code_[a].op == OpCode::neg) return code_[a].a;
      break;
    case OpCode::where:
      if (b == c) return b;
      break;
    default: break;
  }
  return emit({op, a, b, c, imm});
}

std::int32_t Builder::emit(const Instr& instr) {
  for (std::size_t i = 0; i < code_.size(); ++i)
    if (code_[i] == instr) return static_cast<std::int32_t>(i);
  code_.push_back(instr);
  return static_cast<std::int32_t>(code_.size() - 1);
}

ProgramPtr Builder::finish(std::int32_t output) const { return finish(std::vector<std::int32_t>{output}); }

ProgramPtr Builder::finish(const std::vector<std::int32_t>& outputs) const {
  // Dead-code elimination: keep what the outputs depend on, in order.
  std::vector<bool> live(code_.size(), false);
  std::int32_t last = 0;
  for (std::int32_t output : outputs) {
    live[output] = true;
    last = std::max(last, output);
  }
  for (std::int32_t i = last; i >= 0; --i) {
    if (!live[i]) continue;
    const Instr& in = code_[i];
    if (in.op == OpCode::input || in.op == OpCode::constant) continue;
    for (std::int32_t r : {in.a, in.b, in.c})
      if (r >= 0) live[r] = true;
  }
  std::vector<std::int32_t> remap(code_.size(), -1);
  std::vector<Instr> code;
  for (std::int32_t i = 0; i <= last; ++i) {
    if (!live[i]) continue;
    Instr in = code_[i];
    if (in.op != OpCode::input && in.op != OpCode::constant) {
      if (in.a >= 0) in.a = remap[in.a];
      if (in.b >= 0) in.b = remap[in.b];
      if (in.c >= 0) in.c = remap[in.c];
    }
    remap[i] = static_cast<std::int32_t>(code.size());
    code.push_back(in);
  }
  std::vector<std::int32_t> remapped;
  for (std::int32_t output : outputs) remapped.push_back(remap[output]);
  return intern(std::move(code), std::move(remapped), num_inputs_);
}

}  // namespace mttt::expr
