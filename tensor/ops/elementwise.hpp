// Elementwise operations with NumPy broadcasting. Every one of them is a one-instruction
// program of the fusion IR (tensor/expr/), run by `apply`; `fuse` runs a whole expression as
// one pass and one tape node:
//
//   Tensor y = fuse([](Expr a, Expr b, Expr c) { return gelu(a * b + c); }, a, b, c);
//
// Inputs must share dtype and device. Comparisons return 1 or 0 in the inputs' dtype.
#pragma once

#include <utility>
#include <vector>

#include "tensor/core.hpp"
#include "tensor/expr/expr.hpp"

namespace mttt {

using expr::Expr;

// Evaluates `program` on `inputs` (broadcast together) in one pass, as one tape node whose
// backward rule is again a program.
Tensor apply_program(const expr::ProgramPtr& program, const std::vector<Tensor>& inputs);

template <class F, class... Ts> Tensor fuse(F&& f, const Ts&... inputs) {
  expr::Builder builder(static_cast<int>(sizeof...(Ts)));
  Expr result = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return f(Expr(&builder, builder.input(static_cast<int>(I)))...);
  }(std::index_sequence_for<Ts...>{});
  return apply_program(builder.finish(result.reg()), std::vector<Tensor>{inputs...});
}

// The same with a run-time list of inputs: f(const std::vector<Expr>&) -> Expr.
template <class F> Tensor fuse_all(F&& f, const std::vector<Tensor>& inputs) {
  expr::Builder builder(static_cast<int>(inputs.size()));
  std::vector<Expr> args;
  for (std::size_t i = 0; i < inputs.size(); ++i) args.emplace_back(&builder, builder.input(static_cast<int>(i)));
  Expr result = f(args);
  return apply_program(builder.finish(result.reg()), inputs);
}

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor square(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor elu(const Tensor& x, double alpha = 1.0);
// GELU, tanh approximation (the spec's GELU) and exact (erf).
Tensor gelu(const Tensor& x);
Tensor gelu_erf(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor clamp(const Tensor& x, double low, double high);

Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// condition != 0 ? a : b, all three broadcast together; condition has a's dtype.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);

// Converts the element type (differentiable between floating types).
Tensor cast(const Tensor& x, DType dtype);
// True when no element is NaN or Inf (int64: always).
bool all_finite(const Tensor& x);

// Operators, with scalars on either side (the scalar takes the tensor's dtype).
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

}  // namespace mttt
