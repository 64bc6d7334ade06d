// Expressions: the front end of the fusion IR. An Expr is a register of a program being
// built; arithmetic on Exprs appends instructions. Exprs exist only while a program is being
// written (inside `fuse`, or inside a derivative rule) and refer to no tensor, so no
// expression can outlive its operands.
//
//   Tensor y = fuse([](Expr a, Expr b, Expr c) { return gelu(a * b + c); }, a, b, c);
#pragma once

#include <cstdint>

#include "tensor/expr/program.hpp"

namespace mttt::expr {

class Expr {
 public:
  Expr(Builder* builder, std::int32_t reg) : builder_(builder), reg_(reg) {}
  Builder* builder() const { return builder_; }
  std::int32_t reg() const { return reg_; }
  // A constant in the same program.
  Expr constant(double value) const { return {builder_, builder_->constant(value)}; }

 private:
  Builder* builder_;
  std::int32_t reg_;
};

Expr unary(OpCode op, Expr a, double imm = 0);
Expr binary(OpCode op, Expr a, Expr b);

inline Expr operator+(Expr a, Expr b) { return binary(OpCode::add, a, b); }
inline Expr operator-(Expr a, Expr b) { return binary(OpCode::sub, a, b); }
inline Expr operator*(Expr a, Expr b) { return binary(OpCode::mul, a, b); }
inline Expr operator/(Expr a, Expr b) { return binary(OpCode::div, a, b); }
inline Expr operator+(Expr a, double b) { return a + a.constant(b); }
inline Expr operator-(Expr a, double b) { return a - a.constant(b); }
inline Expr operator*(Expr a, double b) { return a * a.constant(b); }
inline Expr operator/(Expr a, double b) { return a / a.constant(b); }
inline Expr operator+(double a, Expr b) { return b.constant(a) + b; }
inline Expr operator-(double a, Expr b) { return b.constant(a) - b; }
inline Expr operator*(double a, Expr b) { return b.constant(a) * b; }
inline Expr operator/(double a, Expr b) { return b.constant(a) / b; }
inline Expr operator-(Expr a) { return unary(OpCode::neg, a); }

inline Expr exp(Expr a) { return unary(OpCode::exp, a); }
inline Expr expm1(Expr a) { return unary(OpCode::expm1, a); }
inline Expr log(Expr a) { return unary(OpCode::log, a); }
inline Expr log1p(Expr a) { return unary(OpCode::log1p, a); }
inline Expr sqrt(Expr a) { return unary(OpCode::sqrt, a); }
inline Expr rsqrt(Expr a) { return unary(OpCode::rsqrt, a); }
inline Expr abs(Expr a) { return unary(OpCode::abs, a); }
inline Expr sign(Expr a) { return unary(OpCode::sign, a); }
inline Expr tanh(Expr a) { return unary(OpCode::tanh, a); }
inline Expr sigmoid(Expr a) { return unary(OpCode::sigmoid, a); }
inline Expr relu(Expr a) { return unary(OpCode::relu, a); }
// 1 where a > 0, else 0.
inline Expr step(Expr a) { return unary(OpCode::step, a); }
inline Expr elu(Expr a, double alpha = 1.0) { return unary(OpCode::elu, a, alpha); }
// GELU with the tanh approximation (the spec's GELU).
inline Expr gelu(Expr a) { return unary(OpCode::gelu_tanh, a); }
inline Expr gelu_erf(Expr a) { return unary(OpCode::gelu_erf, a); }
inline Expr erf(Expr a) { return unary(OpCode::erf, a); }
inline Expr sin(Expr a) { return unary(OpCode::sin, a); }
inline Expr cos(Expr a) { return unary(OpCode::cos, a); }
inline Expr reciprocal(Expr a) { return unary(OpCode::reciprocal, a); }
inline Expr square(Expr a) { return unary(OpCode::square, a); }

inline Expr pow(Expr a, Expr b) { return binary(OpCode::pow, a, b); }
inline Expr pow(Expr a, double b) { return binary(OpCode::pow, a, a.constant(b)); }
inline Expr maximum(Expr a, Expr b) { return binary(OpCode::maximum, a, b); }
inline Expr minimum(Expr a, Expr b) { return binary(OpCode::minimum, a, b); }
inline Expr clamp(Expr a, double low, double high) { return minimum(maximum(a, a.constant(low)), a.constant(high)); }
// Comparisons give 1 or 0 in the element type.
inline Expr eq(Expr a, Expr b) { return binary(OpCode::eq, a, b); }
inline Expr ne(Expr a, Expr b) { return binary(OpCode::ne, a, b); }
inline Expr lt(Expr a, Expr b) { return binary(OpCode::lt, a, b); }
inline Expr le(Expr a, Expr b) { return binary(OpCode::le, a, b); }
inline Expr gt(Expr a, Expr b) { return binary(OpCode::gt, a, b); }
inline Expr ge(Expr a, Expr b) { return binary(OpCode::ge, a, b); }
// condition != 0 ? a : b
Expr where(Expr condition, Expr a, Expr b);

}  // namespace mttt::expr
