#include "mttt/kernel_learner.hpp"

#include <cmath>

#include "tensor/tensor.hpp"

namespace mttt::ttt {

namespace {

const Tensor& find(const nn::NamedTensors& params, const std::string& name) {
  for (const auto& [key, t] : params)
    if (key == name) return t;
  fail("kernel", "parameter '{}' is missing", name);
}

// (B, N, D) -> (B, H, N, d)
Tensor split_heads(const Tensor& x, std::int64_t heads) {
  return permute(reshape(x, {x.size(0), x.size(1), heads, x.size(2) / heads}), {0, 2, 1, 3});
}

Tensor dense(const nn::NamedTensors& params, const std::string& name, const Tensor& x) {
  return matmul(x, find(params, name + ".kernel")) + find(params, name + ".bias");
}

}  // namespace

Tensor kernel_learner_forward(const nn::NamedTensors& params, std::int64_t heads, const Tensor& y) {
  check(y.rank() == 3 && y.size(2) % heads == 0, "kernel", "input y has shape {}, expected (B, N, D) with D divisible by {}",
        to_string(y.shape()), heads);
  const double d = static_cast<double>(y.size(2) / heads);
  Tensor q = split_heads(dense(params, "query", y), heads);  // test views
  Tensor k = split_heads(dense(params, "key", y), heads);    // training inputs
  Tensor v = split_heads(dense(params, "value", y), heads);  // training labels
  Tensor kappa = exp(matmul(q, transpose(k)) * (1.0 / std::sqrt(d)));  // (B, H, N, N)
  Tensor estimate = matmul(kappa, v) / sum(kappa, {-1}, true);        // Nadaraya-Watson
  Tensor merged = reshape(permute(estimate, {0, 2, 1, 3}), y.shape());
  return dense(params, "out", merged);
}

}  // namespace mttt::ttt
