#include "nn/layers/linear_attention.hpp"

#include <fmt/format.h>

#include "nn/layers/heads.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

namespace {

void check_qkv(const char* op, const Tensor& q, const Tensor& k, const Tensor& v) {
  check(q.rank() == 4 && q.shape() == k.shape() && k.shape() == v.shape(), op,
        "Q {}, K {}, V {} must all be (B, H, N, d)", to_string(q.shape()), to_string(k.shape()), to_string(v.shape()));
}

}  // namespace

Tensor linear_attention_identity(const Tensor& q, const Tensor& k, const Tensor& v) {
  check_qkv("linear_attention", q, k, v);
  const double n = static_cast<double>(k.size(2)), d = static_cast<double>(k.size(3));
  // (B, H, d, d) = sum_j K_j^T V_j / (N d): scaling the d x d matrix is cheaper than the output
  Tensor kv = matmul(transpose(k), v) * (1.0 / (n * d));
  return matmul(q, kv);
}

Tensor linear_attention_normalised(const Tensor& q, const Tensor& k, const Tensor& v) {
  check_qkv("linear_attention_elu", q, k, v);
  Tensor kv = matmul(transpose(k), v);                          // (B, H, d, d)
  Tensor normaliser = matmul(q, transpose(sum(k, {2}, true)));  // (B, H, N, 1) = Q_i . sum_j K_j
  return matmul(q, kv) / normaliser;
}

LinearAttention::LinearAttention(std::int64_t width, std::int64_t heads, FeatureMap map, Generator& gen, DType dtype)
    : width_(width), heads_(heads), map_(map) {
  check(heads > 0 && width % heads == 0, "LinearAttention", "width {} is not divisible by {} heads", width, heads);
  LinearOptions o{.kernel_init = init::xavier_uniform(), .bias_init = init::zeros(), .dtype = dtype};
  query_ = &register_module("query", std::make_unique<Linear>(width, width, gen, o));
  key_ = &register_module("key", std::make_unique<Linear>(width, width, gen, o));
  value_ = &register_module("value", std::make_unique<Linear>(width, width, gen, o));
  proj_ = &register_module("proj", std::make_unique<Linear>(width, width, gen, o));
}

Tensor LinearAttention::forward(const Tensor& y) {
  check(y.rank() == 3 && y.size(2) == width_, "LinearAttention", "input {} must be (B, N, {})", to_string(y.shape()),
        width_);
  Tensor q = query_->forward(y), k = key_->forward(y);
  if (map_ == FeatureMap::elu_plus_one) {
    auto phi = [](Expr x) { return elu(x) + 1.0; };
    q = fuse(phi, q);
    k = fuse(phi, k);
  }
  Tensor qh = split_heads(q, heads_), kh = split_heads(k, heads_), vh = split_heads(value_->forward(y), heads_);
  Tensor out =
      map_ == FeatureMap::identity ? linear_attention_identity(qh, kh, vh) : linear_attention_normalised(qh, kh, vh);
  return proj_->forward(merge_heads(out));
}

std::string LinearAttention::describe() const {
  return fmt::format("LinearAttention(D {}, H {}, {})", width_, heads_,
                     map_ == FeatureMap::identity ? "identity" : "elu+1");
}

}  // namespace mttt::nn
