// The fused kernels written once with tensor-level ops (elementwise programs, reductions), each
// the math of its Backend kernel (tensor/backend/backend.hpp). Two uses:
// - Backend's default for the kernel (composite.cpp): run without recording, the result copied
//   into the kernel's output, so a fused op works on a backend that has no kernel of its own;
// - a rule that must differentiate through the kernel: these are differentiable ops, to any
//   order (tensor/ops/norm.cpp).
// None of them calls the fused op it stands for (the default would call itself).
#pragma once

#include "tensor/core.hpp"

namespace mttt::composite {

// Softmax (or log-softmax) along `axis` (normalised, 0 <= axis < rank), shifted by the row's
// maximum where that is finite.
Tensor softmax(const Tensor& x, int axis, bool log);
// x-hat = (x - mean) r over the last axis, r = (var + eps)^(-1/2) (biased variance).
Tensor normalise(const Tensor& x, double eps);
// x-hat * scale + bias; scale and bias may be undefined.
Tensor layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps);
// r (gy - mean(gy) - x-hat mean(gy x-hat)), the input gradient of layer_norm without scale.
Tensor layer_norm_backward(const Tensor& x, const Tensor& gy, double eps);
// x's part of layer_norm_backward's vjp for a cotangent u (Backend::layer_norm_backward_vjp's
// x_bar); its gy part is layer_norm_backward(x, u), the map gy -> out being self-adjoint.
Tensor layer_norm_backward_vjp_x(const Tensor& x, const Tensor& gy, const Tensor& u, double eps);

}  // namespace mttt::composite
