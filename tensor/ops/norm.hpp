// Layer normalisation over the last axis as one fused kernel (biased variance):
//   y = (x - mean) / sqrt(var + eps) * scale + bias
// scale and bias (shape (D)) may be undefined.
#pragma once

#include "tensor/core.hpp"

namespace mttt {

Tensor layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps = 1e-6);

// layer_norm's input gradient as one pass, given gy (the output's gradient times the scale, x's
// shape): r (gy - mean(gy) - x-hat mean(gy x-hat)) over the last axis, r = (var + eps)^(-1/2),
// x-hat = (x - mean) r. Differentiable in x and gy, to any order.
Tensor layer_norm_backward(const Tensor& x, const Tensor& gy, double eps = 1e-6);

}  // namespace mttt
