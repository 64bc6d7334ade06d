// The fusion IR: an elementwise computation as a small program in SSA form. Instruction i
// computes register i from earlier registers; `Input k` reads the k-th input tensor (NumPy
// broadcast to the output's shape), `Constant` is a scalar. A backend evaluates a program in
// one pass over memory (the CPU interprets it block by block; Thrust runs it per element),
// which is what fuses `gelu(a * b + c)` into one loop.
//
// Every opcode has a derivative rule written with opcodes (derivative.cpp), so the
// vector-Jacobian product of a program is again a program, and so on to any order.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mttt::expr {

enum class OpCode : std::uint8_t {
  input, constant,
  // unary
  neg, exp, log, sqrt, rsqrt, abs, sign, tanh, sigmoid, relu, step, elu, gelu_tanh, gelu_erf, erf, sin, cos,
  reciprocal, square, expm1, log1p,
  // binary
  add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge,
  // ternary: where(condition != 0, a, b)
  where,
};

const char* name(OpCode op);
int arity(OpCode op);
// Opcodes that int64 programs cannot run (transcendental functions, division).
bool floating_only(OpCode op);

struct Instr {
  OpCode op;
  std::int32_t a = -1, b = -1, c = -1;  // operand registers; for `input`, a is the input index
  double imm = 0;                       // the constant's value; elu's alpha

  friend bool operator==(const Instr& x, const Instr& y) {
    return x.op == y.op && x.a == y.a && x.b == y.b && x.c == y.c &&
           (x.imm == y.imm || (x.imm != x.imm && y.imm != y.imm));
  }
};

class Program;
using ProgramPtr = std::shared_ptr<const Program>;

// The cotangents of several inputs of a program as one program with one output per input, so
// that a first-order backward sweep reads the inputs once and computes shared subexpressions
// (the forward recomputation, gelu's tanh) once instead of once per input.
struct JointVjp {
  ProgramPtr program;       // outputs()[i] is the cotangent of input inputs[i]
  std::vector<int> inputs;  // the requested inputs whose cotangent is not symbolically zero
};

class Program {
 public:
  Program(std::vector<Instr> code, std::int32_t output, int num_inputs);
  // A program with several outputs (each an SSA register); backends evaluate them in one pass.
  Program(std::vector<Instr> code, std::vector<std::int32_t> outputs, int num_inputs);

  const std::vector<Instr>& code() const { return code_; }
  // The first output: the only one of every program but a joint vjp.
  std::int32_t output() const { return outputs_.front(); }
  const std::vector<std::int32_t>& outputs() const { return outputs_; }
  int num_inputs() const { return num_inputs_; }
  // Instructions that compute (neither inputs nor constants).
  int compute_count() const { return compute_count_; }
  // True when the output is the constant 0 (a vanishing derivative).
  bool is_zero() const;
  // Whether input k is read at all (a vjp program often needs only some of the inputs).
  bool reads(int k) const { return reads_[k] != 0; }
  // The name shown in errors and profiles: the opcode's name for a one-op program, else "fused".
  const char* op_name() const { return op_name_; }
  // "gelu_tanh(add(mul(x0, x1), x2))"
  std::string describe() const;

  // The program computing the cotangent of input `k` from (inputs..., cotangent of the
  // output), before summing over broadcast axes. Built once per program and input, cached.
  // Single-output programs only.
  const ProgramPtr& vjp(int k) const;
  // The vjps of the inputs set in `mask` as one program (see JointVjp); cached per mask.
  const JointVjp& joint_vjp(std::uint64_t mask) const;

 private:
  std::vector<Instr> code_;
  std::vector<std::int32_t> outputs_;
  int num_inputs_;
  int compute_count_ = 0;
  std::vector<char> reads_;
  const char* op_name_ = "fused";
  mutable std::mutex cache_mutex_;
  mutable std::vector<ProgramPtr> vjp_cache_;
  // Set once vjp_cache_[k] is built: later calls read it without the lock (every recorded op
  // and every backward rule asks for its vjp programs).
  mutable std::vector<std::atomic<bool>> vjp_ready_;
  mutable std::vector<std::pair<std::uint64_t, std::unique_ptr<JointVjp>>> joint_cache_;
};

// Builds the vjp program of `program` with respect to input k (derivative.cpp).
ProgramPtr build_vjp(const Program& program, int k);

// Returns the shared copy of an equal program, so that derivative caches are shared by every
// evaluation of the same computation (the table is bounded; it is cleared when it grows past
// a few thousand programs).
ProgramPtr intern(std::vector<Instr> code, std::vector<std::int32_t> outputs, int num_inputs);
// How many programs the table holds: a warm training step should add none (one a step would be
// a constant that changes every step, where an input belongs).
std::size_t interned_programs();

// Builds programs one instruction at a time with common-subexpression elimination and
// constant folding (x * 1, x + 0, 0 * x for symbolic zeros, constant arithmetic).
class Builder {
 public:
  explicit Builder(int num_inputs) : num_inputs_(num_inputs) {}

  std::int32_t input(int k);
  std::int32_t constant(double value);
  std::int32_t op(OpCode op, std::int32_t a, std::int32_t b = -1, std::int32_t c = -1, double imm = 0);

  bool is_constant(std::int32_t reg, double value) const;
  int num_inputs() const { return num_inputs_; }
  ProgramPtr finish(std::int32_t output) const;
  // A program with several outputs, in this order (dead code eliminated for all of them).
  ProgramPtr finish(const std::vector<std::int32_t>& outputs) const;

 private:
  std::int32_t emit(const Instr& instr);
  std::vector<Instr> code_;
  int num_inputs_;
};

// Evaluates one opcode on scalars (constant folding, reference for tests).
double evaluate(OpCode op, double a, double b = 0, double c = 0, double imm = 0);

}  // namespace mttt::expr
