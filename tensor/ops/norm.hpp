// Layer normalisation over the last axis as one fused kernel (biased variance):
//   y = (x - mean) / sqrt(var + eps) * scale + bias
// scale and bias (shape (D)) may be undefined.
#pragma once

#include "tensor/core.hpp"

namespace mttt {

Tensor layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps = 1e-6);

}  // namespace mttt
