#include "nn/layers/attention.hpp"

#include <fmt/format.h>

#include <cmath>

#include "nn/layers/heads.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  check(q.rank() == 4 && k.shape() == v.shape() && q.shape() == k.shape(), "attention",
        "Q {}, K {}, V {} must all be (B, H, N, d)", to_string(q.shape()), to_string(k.shape()), to_string(v.shape()));
  // Scaling Q (N d values) is cheaper than scaling the N x N scores.
  Tensor scores = matmul(q * (1.0 / std::sqrt(static_cast<double>(q.size(3)))), transpose(k));
  return matmul(softmax(scores, -1), v);
}

SelfAttention::SelfAttention(std::int64_t width, std::int64_t heads, Generator& gen, DType dtype)
    : width_(width), heads_(heads) {
  check(heads > 0 && width % heads == 0, "SelfAttention", "width {} is not divisible by {} heads", width, heads);
  LinearOptions o{.kernel_init = init::xavier_uniform(), .bias_init = init::zeros(), .dtype = dtype};
  query_ = &register_module("query", std::make_unique<Linear>(width, width, gen, o));
  key_ = &register_module("key", std::make_unique<Linear>(width, width, gen, o));
  value_ = &register_module("value", std::make_unique<Linear>(width, width, gen, o));
  out_ = &register_module("out", std::make_unique<Linear>(width, width, gen, o));
}

Tensor SelfAttention::forward(const Tensor& y) {
  check(y.rank() == 3 && y.size(2) == width_, "SelfAttention", "input {} must be (B, N, {})", to_string(y.shape()),
        width_);
  Tensor q = split_heads(query_->forward(y), heads_);  // (B, H, N, d)
  Tensor k = split_heads(key_->forward(y), heads_);
  Tensor v = split_heads(value_->forward(y), heads_);
  return out_->forward(merge_heads(scaled_dot_product_attention(q, k, v)));
}

std::string SelfAttention::describe() const { return fmt::format("SelfAttention(D {}, H {})", width_, heads_); }

}  // namespace mttt::nn
