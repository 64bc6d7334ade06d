#include "nn/layers/heads.hpp"

#include "tensor/tensor.hpp"

namespace mttt::nn {

Tensor split_heads(const Tensor& x, std::int64_t heads) {
  check(x.rank() == 3 && heads > 0 && x.size(2) % heads == 0, "split_heads",
        "tokens {} must be (B, N, D) with D divisible by {} heads", to_string(x.shape()), heads);
  return permute(reshape(x, {x.size(0), x.size(1), heads, x.size(2) / heads}), {0, 2, 1, 3});
}

Tensor merge_heads(const Tensor& x) {
  check(x.rank() == 4, "merge_heads", "expected (B, H, N, d), got {}", to_string(x.shape()));
  return reshape(permute(x, {0, 2, 1, 3}), {x.size(0), x.size(2), x.size(1) * x.size(3)});
}

}  // namespace mttt::nn
