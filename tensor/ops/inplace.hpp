// In-place updates, for optimisers and buffers: they write into existing storage and are not
// recorded. Updating a tensor that requires grad is allowed only with grad mode off (under
// NoGrad), as an optimiser step is.
#pragma once

#include "tensor/core.hpp"

namespace mttt {

// dst <- src (broadcast to dst's shape, converted to dst's dtype, moved from src's device).
void copy_(const Tensor& dst, const Tensor& src);
void fill_(const Tensor& dst, double value);

}  // namespace mttt
