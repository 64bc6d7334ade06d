#include "mttt/verify.hpp"

#include <cmath>

#include "mttt/kernel_learner.hpp"
#include "mttt/ttt_layer.hpp"
#include "nn/functional.hpp"
#include "nn/layers/attention.hpp"
#include "nn/layers/linear_attention.hpp"
#include "tensor/tensor.hpp"

namespace mttt::ttt {

namespace {

double relative_error(const Tensor& a, const Tensor& b) {
  NoGrad off;
  const double scale = max(abs(cast(b, DType::float64))).item<double>();
  return max(abs(cast(a, DType::float64) - cast(b, DType::float64))).item<double>() / std::max(scale, 1e-300);
}

const char* name_of(DType dtype) { return dtype == DType::float64 ? "float64" : "float32"; }

// (H, D, d) per-head projections as one (D, H d) dense kernel, heads side by side.
Tensor heads_side_by_side(const Tensor& kernel) {
  return reshape(permute(kernel, {1, 0, 2}), {kernel.size(1), kernel.size(0) * kernel.size(2)});
}

// The linear-attention parameters that MTTT-Linear's inner step amounts to, as functions of
// the TTT parameters (differentiable: gradients flow back to them).
nn::NamedTensors linear_attention_parameters(const TTTParams& p, double eta) {
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

void perturb(const Tensor& t, Generator& g) {
  NoGrad off;
  copy_(t, uniform(t.shape(), -0.5, 0.5, {t.dtype()}, &g));
}

void linear_attention_identity(std::vector<VerifyRow>& rows, DType dtype, const VerifyShape& s, std::uint64_t seed) {
  const double tol = dtype == DType::float64 ? 1e-10 : 1e-4, eta = 0.7;
  Generator g(seed);
  TTTOptions o = TTTOptions::mttt_linear(s.heads);
  o.eta = {eta};
  TTTParams p = init_ttt_params(o, s.width, g, dtype);
  for (const Tensor* t : {&p.phi_bias, &p.psi_bias, &p.g_bias, &p.h_bias}) perturb(*t, g);
  Tensor y = uniform({s.batch, s.tokens, s.width}, -1, 1, {dtype}, &g).requires_grad_();
  Tensor z_ttt = ttt_forward(p, o, y).z;
  Generator unused(0);
  nn::LinearAttention attention(s.width, s.heads, nn::FeatureMap::identity, unused, dtype);
  Tensor z_attention = nn::functional_call(attention, linear_attention_parameters(p, eta), y);
  const std::string check = "1. MTTT-Linear = linear attention";
  rows.push_back({check, name_of(dtype), "output z", relative_error(z_ttt, z_attention), tol});
  Tensor r = uniform(y.shape(), -1, 1, {dtype}, &g);
  std::vector<Tensor> inputs = {y};
  std::vector<std::string> names = {"y"};
  for (const auto& [name, t] : p.named(o))
    if (t.requires_grad()) inputs.push_back(t), names.push_back(name);
  auto a = grad({sum(z_ttt * r)}, inputs);
  auto b = grad({sum(z_attention * r)}, inputs);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    rows.push_back({check, name_of(dtype), "grad " + names[i], relative_error(a[i], b[i]), tol});
}

void kernel_identity(std::vector<VerifyRow>& rows, DType dtype, const VerifyShape& s, std::uint64_t seed) {
  const double tol = dtype == DType::float64 ? 1e-10 : 1e-4;
  Generator g(seed + 1);
  nn::SelfAttention attention(s.width, s.heads, g, dtype);
  nn::NamedTensors params = attention.named_parameters();
  for (const auto& [name, t] : params)
    if (name.find("bias") != std::string::npos) perturb(t, g);
  Tensor y = uniform({s.batch, s.tokens, s.width}, -1, 1, {dtype}, &g).requires_grad_();
  Tensor z_kernel = kernel_learner_forward(params, s.heads, y);
  Tensor z_attention = attention.forward(y);
  const std::string check = "2. kernel learner = self-attention";
  rows.push_back({check, name_of(dtype), "output z", relative_error(z_kernel, z_attention), tol});
  Tensor r = uniform(y.shape(), -1, 1, {dtype}, &g);
  std::vector<Tensor> inputs = {y};
  std::vector<std::string> names = {"y"};
  for (const auto& [name, t] : params) inputs.push_back(t), names.push_back(name);
  auto a = grad({sum(z_kernel * r)}, inputs);
  auto b = grad({sum(z_attention * r)}, inputs);
  // The key bias shifts every score of a query alike: its gradient is zero in exact arithmetic
  // and both sides hold rounding noise, so it is compared on a scale of the case: 1e-3 times the
  // largest gradient of any tensor.
  double largest = 0;
  for (const Tensor& t : b) largest = std::max(largest, max(abs(t)).item<double>());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    double scale = std::max(max(abs(b[i])).item<double>(), 1e-3 * largest);
    double error = max(abs(a[i] - b[i])).item<double>() / scale;
    rows.push_back({check, name_of(dtype), "grad " + names[i], error, tol});
  }
}

void finite_differences(std::vector<VerifyRow>& rows, const VerifyShape& s, std::uint64_t seed) {
  struct Case {
    const char* name;
    int steps;
    bool sgd;
  };
  for (Case c : {Case{"T = 1", 1, false}, Case{"T = 4 GD", 4, false}, Case{"T = 4 SGD", 4, true}}) {
    Generator g(seed + 2);
    TTTOptions o = TTTOptions::mttt_mlp(s.heads, c.steps, c.sgd);
    o.eta = std::vector<double>(static_cast<std::size_t>(c.steps), 0.5);
    TTTParams p = init_ttt_params(o, s.width, g, DType::float64);
    for (const Tensor* t : {&p.phi_bias, &p.g_bias, &p.decoder_ln_bias}) perturb(*t, g);
    ForwardOptions f;
    if (c.sgd) f.permutation = draw_permutation(s.heads, s.tokens, g);
    Tensor y = uniform({s.batch, s.tokens, s.width}, -1, 1, {DType::float64}, &g);
    const std::string check = std::string("3. MTTT-MLP ") + c.name + " vs finite differences";
    // Inner: the reconstruction loss (eq. 1) in the fast weights.
    Tensor y4 = unsqueeze(y, 1);
    Tensor K = matmul(y4, p.phi_kernel.detach()) + unsqueeze(p.phi_bias.detach(), 1);
    std::vector<Tensor> w0;
    for (const Tensor& w : p.inner.tensors) w0.push_back(w.detach());
    auto inner = gradcheck([&](const std::vector<Tensor>& w) { return reconstruction_loss(p, o, FastWeights{w}, K, y4); },
                           w0);
    rows.push_back({check, "float64", "inner gradient (eq. 2)", inner.max_abs_error, 1e-6});
    // Outer: the layer's output in W0, phi, g, the decoder LN and y; second order through eq. 2.
    auto outer = gradcheck(
        [&](const std::vector<Tensor>& v) {
          TTTParams q = p;
          q.inner.tensors[0] = v[1];
          q.phi_kernel = v[2];
          q.g_kernel = v[3];
          q.decoder_ln_scale = v[4];
          return ttt_forward(q, o, v[0], f).z;
        },
        {y, p.inner.tensors[0].detach(), p.phi_kernel.detach(), p.g_kernel.detach(), p.decoder_ln_scale.detach()});
    rows.push_back({check, "float64", "outer gradient (second order)", outer.max_abs_error, 1e-6});
  }
}

}  // namespace

std::vector<VerifyRow> verify_equivalences(std::uint64_t seed, const VerifyShape& shape) {
  std::vector<VerifyRow> rows;
  for (DType dtype : {DType::float64, DType::float32}) linear_attention_identity(rows, dtype, shape, seed);
  for (DType dtype : {DType::float64, DType::float32}) kernel_identity(rows, dtype, shape, seed);
  finite_differences(rows, shape, seed);
  return rows;
}

}  // namespace mttt::ttt
