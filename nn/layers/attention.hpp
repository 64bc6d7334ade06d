// Multi-head softmax self-attention (the spec's baseline): query, key, value and out dense
// layers D -> D with biases, scores scaled by 1/sqrt(d), softmax over keys, no mask, no dropout.
// Kernels xavier_uniform on the (D, D) matrix, biases 0. Parameter names query.*, key.*,
// value.*, out.*.
#pragma once

#include <cstdint>

#include "nn/layers/linear.hpp"
#include "nn/token_mixer.hpp"

namespace mttt::nn {

// The attention core for Q, K, V (B, H, N, d): softmax(Q K^T / sqrt(d)) V.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v);

class SelfAttention : public TokenMixer {
 public:
  SelfAttention(std::int64_t width, std::int64_t heads, Generator& generator, DType dtype = DType::float32);
  Tensor forward(const Tensor& y) override;
  std::string describe() const override;
  std::int64_t heads() const { return heads_; }

 private:
  std::int64_t width_, heads_;
  Linear *query_, *key_, *value_, *out_;
};

}  // namespace mttt::nn
