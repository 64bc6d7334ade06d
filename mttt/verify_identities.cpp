// Rows 1 and 2 of `mttt verify`: MTTT-Linear = linear attention, the kernel learner =
// self-attention; outputs and every gradient, in float64 and float32, on any device.
#include <cmath>

#include "mttt/kernel_learner.hpp"
#include "mttt/verify_checks.hpp"
#include "nn/functional.hpp"
#include "nn/layers/attention.hpp"
#include "nn/layers/linear_attention.hpp"

namespace mttt::ttt::verify_detail {

namespace {

// max|a - b| / scale, in float64 whatever the dtype.
double max_difference(const Tensor& a, const Tensor& b) {
  NoGrad off;
  return max(abs(cast(a, DType::float64) - cast(b, DType::float64))).item<double>();
}
double max_magnitude(const Tensor& t) {
  NoGrad off;
  return max(abs(cast(t, DType::float64))).item<double>();
}
double relative_error(const Tensor& a, const Tensor& b) {
  return max_difference(a, b) / std::max(max_magnitude(b), 1e-300);
}

// (H, D, d) per-head projections as one (D, H d) dense kernel, heads side by side.
Tensor heads_side_by_side(const Tensor& kernel) {
  return reshape(permute(kernel, {1, 0, 2}), {kernel.size(1), kernel.size(0) * kernel.size(2)});
}

// The linear-attention parameters that MTTT-Linear's inner step amounts to, as functions of
// the TTT parameters (differentiable: gradients flow back to them).
NamedTensors linear_attention_parameters(const TTTParams& p, double eta) {
  Tensor g_t = permute(p.g_kernel, {0, 2, 1});                        // (H, D, d): g_h^T
  Tensor value_bias = reshape(matmul(p.g_bias, g_t), {-1}) * (-eta);   // -eta b_g g_h^T, heads side by side
  return {{"query.kernel", heads_side_by_side(p.psi_kernel)},
          {"query.bias", reshape(p.psi_bias, {-1})},
          {"key.kernel", heads_side_by_side(p.phi_kernel)},
          {"key.bias", reshape(p.phi_bias, {-1})},
          {"value.kernel", heads_side_by_side(g_t) * eta},
          {"value.bias", value_bias},
          {"proj.kernel", reshape(p.h_kernel, {-1, p.h_kernel.size(2)})},
          {"proj.bias", p.h_bias}};
}

Tensor input(const Context& c, DType dtype, Generator& g) {
  const VerifyShape& s = c.shape;
  return uniform({s.batch, s.tokens, s.width}, -1, 1, {dtype, c.device}, &g).requires_grad_();
}

}  // namespace

void linear_attention_identity(const Context& c, DType dtype) {
  const VerifyShape& s = c.shape;
  const double eta = 0.7, estimate = unit_roundoff(dtype) * std::sqrt(summed_terms(s));
  Generator g(c.seed);
  TTTOptions o = TTTOptions::mttt_linear(s.heads);
  o.eta = {eta};
  TTTParams p = init_ttt_params(o, s.width, g, dtype);
  for (const Tensor* t : {&p.phi_bias, &p.psi_bias, &p.g_bias, &p.h_bias}) perturb(*t, g);
  p = on_device(p, c.device);
  Tensor y = input(c, dtype, g);
  Tensor z_ttt = ttt_forward(p, o, y).z;
  Generator unused(0);
  nn::LinearAttention attention(s.width, s.heads, nn::FeatureMap::identity, unused, dtype);
  attention.to_(c.device);
  Tensor z_attention = nn::functional_call(attention, linear_attention_parameters(p, eta), y);
  const std::string check = "1. MTTT-Linear = linear attention";
  c.add(check, dtype, "output z", relative_error(z_ttt, z_attention), estimate);
  Tensor r = uniform(y.shape(), -1, 1, {dtype, c.device}, &g);
  std::vector<Tensor> inputs = {y};
  std::vector<std::string> names = {"y"};
  for (const auto& [name, t] : p.named(o))
    if (t.requires_grad()) inputs.push_back(t), names.push_back(name);
  auto a = grad({sum(z_ttt * r)}, inputs);
  auto b = grad({sum(z_attention * r)}, inputs);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    c.add(check, dtype, "grad " + names[i], relative_error(a[i], b[i]), estimate);
}

void kernel_identity(const Context& c, DType dtype) {
  const VerifyShape& s = c.shape;
  const double estimate = unit_roundoff(dtype) * std::sqrt(summed_terms(s));
  Generator g(c.seed + 1);
  nn::SelfAttention attention(s.width, s.heads, g, dtype);
  NamedTensors params = attention.named_parameters();
  for (const auto& [name, t] : params)
    if (name.find("bias") != std::string::npos) perturb(t, g);
  attention.to_(c.device);
  params = attention.named_parameters();
  Tensor y = input(c, dtype, g);
  Tensor z_kernel = kernel_learner_forward(params, s.heads, y);
  Tensor z_attention = attention.forward(y);
  const std::string check = "2. kernel learner = self-attention";
  c.add(check, dtype, "output z", relative_error(z_kernel, z_attention), estimate);
  Tensor r = uniform(y.shape(), -1, 1, {dtype, c.device}, &g);
  std::vector<Tensor> inputs = {y};
  std::vector<std::string> names = {"y"};
  for (const auto& [name, t] : params) inputs.push_back(t), names.push_back(name);
  auto a = grad({sum(z_kernel * r)}, inputs);
  auto b = grad({sum(z_attention * r)}, inputs);
  // The key bias shifts every score of a query alike: its gradient is zero in exact arithmetic
  // and both sides hold rounding noise, which is measured against the largest gradient of any
  // tensor.
  double largest = 0;
  for (const Tensor& t : b) largest = std::max(largest, max_magnitude(t));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const double scale = names[i] == "key.bias" ? largest : max_magnitude(b[i]);
    c.add(check, dtype, "grad " + names[i], max_difference(a[i], b[i]) / std::max(scale, 1e-300), estimate);
  }
}

}  // namespace mttt::ttt::verify_detail
