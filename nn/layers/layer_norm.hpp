// LayerNorm over the last axis with the biased variance and eps 1e-6 (the spec's), as one
// fused kernel: y = (x - mean) / sqrt(var + eps) * scale + bias.
#pragma once

#include <cstdint>

#include "nn/module.hpp"

namespace mttt::nn {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::int64_t width, DType dtype = DType::float32, double eps = 1e-6);
  Tensor forward(const Tensor& x) const;
  std::string describe() const override;

  const Tensor& scale() const { return scale_; }
  const Tensor& bias() const { return bias_; }
  double eps() const { return eps_; }

 private:
  std::int64_t width_;
  double eps_;
  Tensor scale_, bias_;
};

}  // namespace mttt::nn
