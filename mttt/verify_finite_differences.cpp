// Row 3 of `mttt verify`: MTTT-MLP's inner gradient (eq. 2) and its outer, second-order
// gradients (through eq. 2) against central finite differences in float64, by gradcheck's fast
// mode, on any device.
#include <cmath>

#include "mttt/verify_checks.hpp"

namespace mttt::ttt::verify_detail {

namespace {

struct Setup {
  TTTOptions options;
  TTTParams params;
  ForwardOptions forward;
  Tensor y;
};

// The same draws for the inner and the outer group of a case.
Setup setup(const Context& c, int steps, bool sgd) {
  const VerifyShape& s = c.shape;
  Generator g(c.seed + 2);
  Setup u;
  u.options = TTTOptions::mttt_mlp(s.heads, steps, sgd);
  u.options.eta = std::vector<double>(static_cast<std::size_t>(steps), 0.5);
  u.params = init_ttt_params(u.options, s.width, g, DType::float64);
  for (const Tensor* t : {&u.params.phi_bias, &u.params.g_bias, &u.params.decoder_ln_bias}) perturb(*t, g);
  u.params = on_device(u.params, c.device);
  if (sgd) u.forward.permutation = to(draw_permutation(s.heads, s.tokens, g), c.device);
  u.y = uniform({s.batch, s.tokens, s.width}, -1, 1, {DType::float64, c.device}, &g);
  return u;
}

std::string check_name(int steps, bool sgd) {
  return steps == 1 ? "3. MTTT-MLP T = 1 vs finite differences"
                    : fmt::format("3. MTTT-MLP T = {} {} vs finite differences", steps, sgd ? "SGD" : "GD");
}

// The error of gradcheck's comparisons, and its estimate: the central differences' rounding,
// scaled by the terms that one evaluation of the function sums along its chain (`passes` times
// N + D + d: the layer's output goes through T inner steps), and their measured truncation.
void add(const Context& c, int steps, bool sgd, const std::string& quantity, const GradcheckResult& r, int passes) {
  c.add(check_name(steps, sgd), DType::float64, quantity, r.max_abs_error,
        r.rounding * std::sqrt(passes * summed_terms(c.shape)) + r.truncation);
}

// gradcheck's fast mode on the inputs laid end to end as one vector, so that a direction moves
// all of them: two directions, each central difference also at 2 eps, cost eight evaluations of
// f whatever the number of inputs.
GradcheckResult joint_gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> flat;
  for (const Tensor& x : inputs) flat.push_back(reshape(x, {-1}));
  TensorFunction of_joined = [&f, &inputs](const std::vector<Tensor>& joined) {
    std::vector<Tensor> parts;
    std::int64_t offset = 0;
    for (const Tensor& x : inputs) {
      parts.push_back(reshape(slice(joined[0], 0, offset, offset + x.numel()), x.shape()));
      offset += x.numel();
    }
    return f(parts);
  };
  return gradcheck(of_joined, {concat(flat, 0)}, {.fast = true, .directions = 2, .measure_truncation = true});
}

}  // namespace

void mlp_inner_gradient(const Context& c, int steps, bool sgd) {
  Setup u = setup(c, steps, sgd);
  const TTTParams& p = u.params;
  const std::int64_t B = c.shape.batch, H = c.shape.heads, N = c.shape.tokens, D = c.shape.width;
  // The last inner step's gradient: the reconstruction loss (eq. 1) in the fast weights
  // W_{T-1} that the forward reached (W0, shared by the images, when T = 1), on that step's
  // tokens S_T (all of them, or the last chunk of each head's permutation).
  std::vector<Tensor> w;
  if (steps == 1) {
    for (const Tensor& w0 : p.inner.tensors) w.push_back(w0.detach());
  } else {
    ForwardOptions f = u.forward;
    f.collect_fast_weights = true;
    NoGrad off;
    w = ttt_forward(p, u.options, u.y, f).fast_weights[static_cast<std::size_t>(steps - 2)].tensors;
  }
  Tensor y4 = unsqueeze(u.y, 1);
  Tensor K = permute(reshape(matmul(u.y, reshape(permute(p.phi_kernel.detach(), {1, 0, 2}), {D, -1})) +
                                 reshape(p.phi_bias.detach(), {-1}),
                             {B, N, H, -1}),
                     {0, 2, 1, 3});  // (B, H, N, d)
  Tensor K_S = K, y_S = y4;
  if (sgd) {
    const std::int64_t m = N / steps, d = K.size(3);
    Tensor chunk = slice(u.forward.permutation, 1, N - m, N);  // (H, m)
    K_S = gather(K, 2, expand(unsqueeze(unsqueeze(chunk, 0), -1), {B, H, m, d}));
    y_S = reshape(gather(u.y, 1, expand(reshape(chunk, {1, H * m, 1}), {B, H * m, D})), {B, H, m, D});
  }
  auto r = joint_gradcheck(
      [&](const std::vector<Tensor>& v) { return reconstruction_loss(p, u.options, FastWeights{v}, K_S, y_S); }, w);
  add(c, steps, sgd, fmt::format("inner gradient (eq. 2) at W{}", steps - 1), r, 1);
}

void mlp_outer_gradient(const Context& c, int steps, bool sgd) {
  Setup u = setup(c, steps, sgd);
  const TTTParams& p = u.params;
  // The layer's output in y, W0, phi, g and the decoder LN: its AD gradient differentiates
  // through the inner gradient steps, a second-order derivative of eq. 1.
  auto r = joint_gradcheck(
      [&](const std::vector<Tensor>& v) {
        TTTParams q = p;
        q.inner.tensors[0] = v[1];
        q.phi_kernel = v[2];
        q.g_kernel = v[3];
        q.decoder_ln_scale = v[4];
        return ttt_forward(q, u.options, v[0], u.forward).z;
      },
      {u.y, p.inner.tensors[0].detach(), p.phi_kernel.detach(), p.g_kernel.detach(), p.decoder_ln_scale.detach()});
  add(c, steps, sgd, "outer gradient (second order)", r, steps);
}

}  // namespace mttt::ttt::verify_detail
