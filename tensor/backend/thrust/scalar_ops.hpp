// One instruction of a fusion program on scalars, for the Thrust interpreter: the same
// definitions as the CPU backend's vectorised ones (tensor/backend/cpu/elementwise.cpp), in
// the element type T, callable on the host and the device.
#pragma once

#include <cmath>
#include <type_traits>

#include "tensor/backend/thrust/layout.hpp"
#include "tensor/expr/program.hpp"

namespace mttt::thrust_backend {

template <class T> MTTT_HD T apply_op(expr::OpCode op, double imm, T x, T y, T z) {
  using expr::OpCode;
  const T one(1), zero(0);
  switch (op) {
    case OpCode::neg: return -x;
    case OpCode::abs: return x < zero ? -x : x;
    case OpCode::sign: return x > zero ? one : x < zero ? -one : zero;
    case OpCode::relu: return x > zero ? x : zero;
    case OpCode::step: return x > zero ? one : zero;
    case OpCode::square: return x * x;
    case OpCode::add: return x + y;
    case OpCode::sub: return x - y;
    case OpCode::mul: return x * y;
    case OpCode::maximum: return x >= y ? x : y;
    case OpCode::minimum: return x <= y ? x : y;
    case OpCode::eq: return x == y ? one : zero;
    case OpCode::ne: return x != y ? one : zero;
    case OpCode::lt: return x < y ? one : zero;
    case OpCode::le: return x <= y ? one : zero;
    case OpCode::gt: return x > y ? one : zero;
    case OpCode::ge: return x >= y ? one : zero;
    case OpCode::where: return x != zero ? y : z;
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    constexpr T kSqrt2OverPi = T(0.7978845608028654), kSqrtHalf = T(0.7071067811865476);
    switch (op) {
      case OpCode::exp: return std::exp(x);
      case OpCode::expm1: return std::expm1(x);
      case OpCode::log: return std::log(x);
      case OpCode::log1p: return std::log1p(x);
      case OpCode::sqrt: return std::sqrt(x);
      case OpCode::rsqrt: return one / std::sqrt(x);
      case OpCode::tanh: return std::tanh(x);
      case OpCode::sigmoid: return one / (one + std::exp(-x));
      case OpCode::elu: return x > zero ? x : T(imm) * std::expm1(x);
      case OpCode::gelu_tanh: return T(0.5) * x * (one + std::tanh(kSqrt2OverPi * (x + T(0.044715) * x * x * x)));
      case OpCode::gelu_erf: return T(0.5) * x * (one + std::erf(x * kSqrtHalf));
      case OpCode::erf: return std::erf(x);
      case OpCode::sin: return std::sin(x);
      case OpCode::cos: return std::cos(x);
      case OpCode::reciprocal: return one / x;
      case OpCode::div: return x / y;
      case OpCode::pow: return std::pow(x, y);
      default: break;
    }
  }
  return zero;  // unreachable for valid programs: the op layer checks opcodes against dtypes
}

}  // namespace mttt::thrust_backend
