// Moving tensors between devices.
#pragma once

#include "tensor/core.hpp"

namespace mttt {

// x's values on `device` (x itself when it is there already); differentiable: the gradient
// goes back to x's device.
Tensor to(const Tensor& x, Device device);

}  // namespace mttt
