// Reverse-mode differentiation of a program, symbolically: the vjp of a program is another
// program over (inputs..., cotangent). Each rule below is the derivative of one opcode,
// written with the same opcodes, so the result can be differentiated again.
#include <cmath>
#include <stdexcept>
#include <vector>

#include "tensor/expr/expr.hpp"

namespace mttt::expr {

Expr unary(OpCode op, Expr a, double imm) { return {a.builder(), a.builder()->op(op, a.reg(), -1, -1, imm)}; }
Expr binary(OpCode op, Expr a, Expr b) { return {a.builder(), a.builder()->op(op, a.reg(), b.reg())}; }
Expr where(Expr condition, Expr a, Expr b) {
  return {a.builder(), a.builder()->op(OpCode::where, condition.reg(), a.reg(), b.reg())};
}

namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;
constexpr double kTwoOverSqrtPi = 1.1283791670955126;   // 2 / sqrt(pi)
constexpr double kInvSqrt2Pi = 0.3989422804014327;      // 1 / sqrt(2 pi)

class Adjoints {
 public:
  Adjoints(Builder& b, std::size_t size) : b_(b), adj_(size, -1) {}
  void add(std::int32_t reg, Expr contribution) {
    std::int32_t& a = adj_[reg];
    a = a < 0 ? contribution.reg() : b_.op(OpCode::add, a, contribution.reg());
  }
  std::int32_t operator[](std::int32_t reg) const { return adj_[reg]; }
  void set(std::int32_t reg, std::int32_t value) { adj_[reg] = value; }

 private:
  Builder& b_;
  std::vector<std::int32_t> adj_;
};

}  // namespace

ProgramPtr build_vjp(const Program& program, int k) {
  const auto& code = program.code();
  Builder b(program.num_inputs() + 1);
  // Forward values (recomputed: a vjp program reads the inputs, never the saved output).
  std::vector<std::int32_t> fwd(code.size());
  for (std::size_t i = 0; i < code.size(); ++i) {
    const Instr& in = code[i];
    if (in.op == OpCode::input) fwd[i] = b.input(in.a);
    else if (in.op == OpCode::constant) fwd[i] = b.constant(in.imm);
    else fwd[i] = b.op(in.op, fwd[in.a], in.b >= 0 ? fwd[in.b] : -1, in.c >= 0 ? fwd[in.c] : -1, in.imm);
  }
  Adjoints adj(b, code.size());
  adj.set(program.output(), b.input(program.num_inputs()));

  for (std::int32_t i = program.output(); i >= 0; --i) {
    if (adj[i] < 0) continue;
    const Instr& in = code[i];
    if (in.op == OpCode::input || in.op == OpCode::constant) continue;
    Expr g(&b, adj[i]);
    Expr y(&b, fwd[i]);
    Expr x(&b, fwd[in.a]);
    auto second = [&] { return Expr(&b, fwd[in.b]); };
    switch (in.op) {
      case OpCode::neg: adj.add(in.a, -g); break;                                  // d(-x) = -dx
      case OpCode::exp: adj.add(in.a, g * y); break;                               // d e^x = e^x dx
      case OpCode::expm1: adj.add(in.a, g * (y + 1.0)); break;
      case OpCode::log: adj.add(in.a, g / x); break;                               // d log x = dx / x
      case OpCode::log1p: adj.add(in.a, g / (x + 1.0)); break;
      case OpCode::sqrt: adj.add(in.a, g / (2.0 * y)); break;                      // d sqrt x = dx / (2 sqrt x)
      case OpCode::rsqrt: adj.add(in.a, g * (-0.5) * y * y * y); break;            // d x^-1/2 = -x^-3/2 / 2 dx
      case OpCode::abs: adj.add(in.a, g * sign(x)); break;
      case OpCode::tanh: adj.add(in.a, g * (1.0 - y * y)); break;                  // d tanh = 1 - tanh^2
      case OpCode::sigmoid: adj.add(in.a, g * y * (1.0 - y)); break;               // d s = s (1 - s)
      case OpCode::relu: adj.add(in.a, g * step(x)); break;
      case OpCode::elu: adj.add(in.a, where(gt(x, x.constant(0)), g, g * (y + in.imm))); break;  // x<=0: alpha e^x
      case OpCode::gelu_tanh: {
        // gelu(x) = x/2 (1 + tanh u), u = c (x + k x^3):
        // gelu'(x) = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 k x^2)
        Expr t = tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
        adj.add(in.a, g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3 * kGeluCubic * x * x)));
        break;
      }
      case OpCode::gelu_erf:  // gelu'(x) = (1 + erf(x / sqrt 2)) / 2 + x e^(-x^2/2) / sqrt(2 pi)
        adj.add(in.a, g * (0.5 * (1.0 + erf(x * M_SQRT1_2)) + x * exp(-0.5 * x * x) * kInvSqrt2Pi));
        break;
      case OpCode::erf: adj.add(in.a, g * kTwoOverSqrtPi * exp(-(x * x))); break;
      case OpCode::sin: adj.add(in.a, g * cos(x)); break;
      case OpCode::cos: adj.add(in.a, -(g * sin(x))); break;
      case OpCode::reciprocal: adj.add(in.a, -(g * y * y)); break;                // d 1/x = -1/x^2
      case OpCode::square: adj.add(in.a, g * 2.0 * x); break;
      case OpCode::add: adj.add(in.a, g); adj.add(in.b, g); break;
      case OpCode::sub: adj.add(in.a, g); adj.add(in.b, -g); break;
      case OpCode::mul: adj.add(in.a, g * second()); adj.add(in.b, g * x); break;
      case OpCode::div: adj.add(in.a, g / second()); adj.add(in.b, -(g * y / second())); break;
      case OpCode::pow:  // d x^p = p x^(p-1) dx + x^p log x dp
        adj.add(in.a, g * second() * pow(x, second() - 1.0));
        if (code[in.b].op != OpCode::constant) adj.add(in.b, g * y * log(x));
        break;
      case OpCode::maximum: adj.add(in.a, g * ge(x, second())); adj.add(in.b, g * lt(x, second())); break;
      case OpCode::minimum: adj.add(in.a, g * le(x, second())); adj.add(in.b, g * gt(x, second())); break;
      case OpCode::where: {
        Expr c(&b, fwd[in.a]);
        Expr zero = g.constant(0);
        adj.add(in.b, where(c, g, zero));
        adj.add(in.c, where(c, zero, g));
        break;
      }
      // Piecewise-constant functions: zero derivative almost everywhere.
      case OpCode::sign: case OpCode::step:
      case OpCode::eq: case OpCode::ne: case OpCode::lt: case OpCode::le: case OpCode::gt: case OpCode::ge:
        break;
      case OpCode::input: case OpCode::constant: break;
    }
  }

  std::int32_t result = -1;
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (code[i].op != OpCode::input || code[i].a != k || adj[static_cast<std::int32_t>(i)] < 0) continue;
    result = result < 0 ? adj[static_cast<std::int32_t>(i)] : b.op(OpCode::add, result, adj[static_cast<std::int32_t>(i)]);
  }
  return b.finish(result < 0 ? b.constant(0) : result);
}

}  // namespace mttt::expr
