#include "mttt/kernel_learner.hpp"

#include <cmath>

#include "nn/layers/heads.hpp"
#include "tensor/tensor.hpp"

namespace mttt::ttt {

namespace {

using nn::split_heads;

Tensor dense(const NamedTensors& params, const std::string& name, const Tensor& x) {
  return matmul(x, tensor_named(params, name + ".kernel", "kernel")) + tensor_named(params, name + ".bias", "kernel");
}

}  // namespace

Tensor kernel_learner_forward(const NamedTensors& params, std::int64_t heads, const Tensor& y) {
  check(y.rank() == 3 && y.size(2) % heads == 0, "kernel", "input y has shape {}, expected (B, N, D) with D divisible by {}",
        to_string(y.shape()), heads);
  const double d = static_cast<double>(y.size(2) / heads);
  Tensor q = split_heads(dense(params, "query", y), heads);  // test views
  Tensor k = split_heads(dense(params, "key", y), heads);    // training inputs
  Tensor v = split_heads(dense(params, "value", y), heads);  // training labels
  Tensor kappa = exp(matmul(q, transpose(k)) * (1.0 / std::sqrt(d)));  // (B, H, N, N)
  Tensor estimate = matmul(kappa, v) / sum(kappa, {-1}, true);        // Nadaraya-Watson
  return dense(params, "out", nn::merge_heads(estimate));
}

}  // namespace mttt::ttt
