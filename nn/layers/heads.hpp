// Splitting the width into heads and back: D = H d.
#pragma once

#include <cstdint>

#include "tensor/core.hpp"

namespace mttt::nn {

// (B, N, H d) -> (B, H, N, d), a view.
Tensor split_heads(const Tensor& x, std::int64_t heads);
// (B, H, N, d) -> (B, N, H d).
Tensor merge_heads(const Tensor& x);

}  // namespace mttt::nn
