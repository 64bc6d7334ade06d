// The groups of rows of `mttt verify` (mttt/verify.hpp), and what they share: moving the
// parameters to the device, the rounding estimates, the row type. Internal to mttt/verify*.cpp.
#pragma once

#include <string>
#include <vector>

#include "mttt/ttt_layer.hpp"
#include "mttt/verify.hpp"
#include "tensor/tensor.hpp"

namespace mttt::ttt::verify_detail {

// Rows of group `group` are appended to `rows`.
struct Context {
  VerifyShape shape;
  std::uint64_t seed = 0;
  Device device = kCPU;
  std::string group;
  std::vector<VerifyRow>* rows = nullptr;
  void add(const std::string& check, DType dtype, const std::string& quantity, double error, double estimate) const;
};

// Unit roundoff: 2^-53 (float64), 2^-24 (float32).
double unit_roundoff(DType dtype);
// Terms summed into one output along the longest chain: N + D + d.
double summed_terms(const VerifyShape& shape);

// The parameters' values on `device`, as new leaves that require grad where the originals did.
TTTParams on_device(const TTTParams& p, Device device);
// Uniform values in [-0.5, 0.5) written into t (biases that init leaves at zero).
void perturb(const Tensor& t, Generator& g);

void linear_attention_identity(const Context& c, DType dtype);  // "linear-attention/<dtype>"
void kernel_identity(const Context& c, DType dtype);            // "self-attention/<dtype>"
// "mlp-<case>/inner" and "mlp-<case>/outer", case t1, t4-gd or t4-sgd.
void mlp_inner_gradient(const Context& c, int steps, bool sgd);
void mlp_outer_gradient(const Context& c, int steps, bool sgd);

}  // namespace mttt::ttt::verify_detail
