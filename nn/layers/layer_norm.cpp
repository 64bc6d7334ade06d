#include "nn/layers/layer_norm.hpp"

#include <fmt/format.h>

#include "tensor/tensor.hpp"

namespace mttt::nn {

LayerNorm::LayerNorm(std::int64_t width, DType dtype, double eps) : width_(width), eps_(eps) {
  check(width > 0, "LayerNorm", "width must be positive, got {}", width);
  register_parameter("scale", scale_, ones({width}, {dtype}));
  register_parameter("bias", bias_, zeros({width}, {dtype}));
}

Tensor LayerNorm::forward(const Tensor& x) const {
  check(x.rank() >= 1 && x.size(-1) == width_, "LayerNorm", "input {} must end with the width {}", to_string(x.shape()),
        width_);
  return layer_norm(x, scale_, bias_, eps_);
}

std::string LayerNorm::describe() const { return fmt::format("LayerNorm({})", width_); }

}  // namespace mttt::nn
