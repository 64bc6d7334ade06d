#include "nn/layers/linear.hpp"

#include <fmt/format.h>

#include "tensor/tensor.hpp"

namespace mttt::nn {

Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias) {
  check(x.defined() && kernel.defined() && kernel.rank() >= 2, "dense", "needs x and a kernel (in, out), got {}",
        kernel.defined() ? to_string(kernel.shape()) : std::string("none"));
  check(x.rank() >= 1 && x.size(-1) == kernel.size(-2), "dense", "x {} @ kernel {}: x's last axis must be {}",
        to_string(x.shape()), to_string(kernel.shape()), kernel.size(-2));
  if (bias.defined())
    check(bias.size(-1) == kernel.size(-1), "dense", "bias {} does not fit kernel {}", to_string(bias.shape()),
          to_string(kernel.shape()));
  Tensor out = matmul(x, kernel);  // a batch of rows times a kernel is one GEMM (tensor/ops/matmul.cpp)
  return bias.defined() ? out + bias : out;
}

Linear::Linear(std::int64_t in, std::int64_t out, Generator& gen, LinearOptions o) : in_(in), out_(out) {
  check(in > 0 && out > 0, "Linear", "sizes must be positive, got {} -> {}", in, out);
  register_parameter("kernel", kernel_, o.kernel_init({in, out}, o.dtype, gen));
  if (o.use_bias) register_parameter("bias", bias_, o.bias_init({out}, o.dtype, gen));
}

std::string Linear::describe() const { return fmt::format("Linear({} -> {})", in_, out_); }

}  // namespace mttt::nn
