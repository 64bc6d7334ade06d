// Patch embedding: each p x p x C patch of an NHWC image, flattened in the order (py, px, c),
// goes through one dense layer to width D; tokens come in row-major grid order. p = 16 on
// ImageNet patches, p = 1 on pixels. kernel (p p C, D) truncated lecun-normal (fan_in p p C),
// bias 0; names kernel and bias (the spec's embedding.kernel, embedding.bias).
#pragma once

#include <cstdint>

#include "nn/module.hpp"
#include "tensor/random.hpp"

namespace mttt::nn {

// (B, H, W, C) -> (B, (H/p) (W/p), p p C), patch features in the order (py, px, c).
Tensor patchify(const Tensor& images, std::int64_t patch);

class PatchEmbedding : public Module {
 public:
  PatchEmbedding(std::int64_t patch, std::int64_t channels, std::int64_t width, Generator& generator,
                 DType dtype = DType::float32);
  // images (B, H, W, C) -> tokens (B, N, D)
  Tensor forward(const Tensor& images) const;
  std::string describe() const override;
  std::int64_t patch() const { return patch_; }

 private:
  std::int64_t patch_, channels_, width_;
  Tensor kernel_, bias_;
};

}  // namespace mttt::nn
