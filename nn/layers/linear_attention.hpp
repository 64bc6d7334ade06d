// Linear attention (the spec's baseline; non-causal, no epsilon): query, key, value and proj
// dense layers D -> D with biases, heads split after the projections.
//   identity map:          out = Q (K^T V) / (N d)                  per head
//   elu + 1 (Katharopoulos et al.), applied to Q and K before the head split:
//                          out_i = Q_i (K^T V) / (Q_i . sum_j K_j)  per head
// With the identity map this is MTTT-Linear with T = 1, eta = 1 (paper §4.1).
// Parameter names query.*, key.*, value.*, proj.*.
#pragma once

#include <cstdint>

#include "nn/layers/linear.hpp"
#include "nn/token_mixer.hpp"

namespace mttt::nn {

enum class FeatureMap { identity, elu_plus_one };

// The attention core for Q, K, V (B, H, N, d), after the feature map.
Tensor linear_attention_identity(const Tensor& q, const Tensor& k, const Tensor& v);
Tensor linear_attention_normalised(const Tensor& q, const Tensor& k, const Tensor& v);

class LinearAttention : public TokenMixer {
 public:
  LinearAttention(std::int64_t width, std::int64_t heads, FeatureMap map, Generator& generator,
                  DType dtype = DType::float32);
  Tensor forward(const Tensor& y) override;
  std::string describe() const override;

 private:
  std::int64_t width_, heads_;
  FeatureMap map_;
  Linear *query_, *key_, *value_, *proj_;
};

}  // namespace mttt::nn
