// The MLP block of a transformer: D -> mlp_dim -> D with GELU (tanh approximation) between,
// xavier_uniform kernels and biases normal(1e-6), as the spec's ViT.
#pragma once

#include <cstdint>

#include "nn/layers/linear.hpp"

namespace mttt::nn {

class Mlp : public Module {
 public:
  Mlp(std::int64_t width, std::int64_t hidden, Generator& generator, DType dtype = DType::float32);
  Tensor forward(const Tensor& x) const;
  std::string describe() const override;

  const Linear& fc1() const { return *fc1_; }
  const Linear& fc2() const { return *fc2_; }

 private:
  Linear* fc1_;
  Linear* fc2_;
};

}  // namespace mttt::nn
