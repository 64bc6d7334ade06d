// Matrix products: (..., m, k) @ (..., k, n) -> (..., m, n), batch axes broadcast as NumPy's
// matmul; a 1-D operand is a vector (its axis is inserted and removed again). Large products
// go to OpenBLAS; batches of small ones run as one parallel batched call.
#pragma once

#include "tensor/core.hpp"

namespace mttt {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace mttt
