#include "nn/layers/mlp.hpp"

#include <fmt/format.h>

#include "tensor/tensor.hpp"

namespace mttt::nn {

Mlp::Mlp(std::int64_t width, std::int64_t hidden, Generator& gen, DType dtype) {
  LinearOptions o{.kernel_init = init::xavier_uniform(), .bias_init = init::normal(1e-6), .dtype = dtype};
  fc1_ = &register_module("fc1", std::make_unique<Linear>(width, hidden, gen, o));
  fc2_ = &register_module("fc2", std::make_unique<Linear>(hidden, width, gen, o));
}

Tensor Mlp::forward(const Tensor& x) const {
  // The bias and GELU run as one fused pass over the hidden activations.
  Tensor h = dense(x, fc1_->kernel(), Tensor());
  h = fuse([](Expr a, Expr b) { return gelu(a + b); }, h, fc1_->bias());
  return fc2_->forward(h);
}

std::string Mlp::describe() const {
  return fmt::format("Mlp({} -> {} -> {})", fc1_->in_features(), fc1_->out_features(), fc2_->out_features());
}

}  // namespace mttt::nn
