// Softmax and log-softmax along one axis, each one fused kernel.
#pragma once

#include <cstdint>

#include "tensor/core.hpp"

namespace mttt {

Tensor softmax(const Tensor& x, std::int64_t axis = -1);
Tensor log_softmax(const Tensor& x, std::int64_t axis = -1);

}  // namespace mttt
