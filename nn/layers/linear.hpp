// Linear (dense) layer: x @ kernel + bias, kernel (in, out) as in Flax.
#pragma once

#include <cstdint>

#include "nn/init.hpp"
#include "nn/module.hpp"

namespace mttt::nn {

// x (..., in) @ kernel (in, out) + bias (out) over x's last axis; the leading axes are
// flattened into one matrix product. bias may be undefined.
Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias);

struct LinearOptions {
  init::Initializer kernel_init = init::lecun_normal();
  init::Initializer bias_init = init::zeros();
  bool use_bias = true;
  DType dtype = DType::float32;
};

class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, Generator& generator, LinearOptions options = {});
  Tensor forward(const Tensor& x) const { return dense(x, kernel_, bias_); }
  std::string describe() const override;

  const Tensor& kernel() const { return kernel_; }
  const Tensor& bias() const { return bias_; }  // undefined without a bias
  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }

 private:
  std::int64_t in_, out_;
  Tensor kernel_, bias_;
};

}  // namespace mttt::nn
