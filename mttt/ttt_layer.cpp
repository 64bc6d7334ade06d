#include "mttt/ttt_layer.hpp"

#include <cmath>

namespace mttt::ttt {

Tensor draw_permutation(std::int64_t heads, std::int64_t tokens, Generator& generator) {
  std::vector<Tensor> rows;
  for (std::int64_t h = 0; h < heads; ++h) rows.push_back(randperm(tokens, &generator));
  return stack(rows, 0);
}

Tensor reconstruction_loss(const TTTParams& p, const TTTOptions& o, const FastWeights& W, const Tensor& K_S,
                           const Tensor& y_S) {
  Tensor recon = matmul(apply_learner(o.learner, W, K_S), p.g_kernel) + p.g_bias;  // (B, H, m, D)
  if (o.decoder_ln)  // LN over D with each head's own scale and bias
    recon = fuse([](Expr x, Expr s, Expr b) { return x * s + b; }, layer_norm(recon, Tensor(), Tensor()),
                 unsqueeze(p.decoder_ln_scale, 1), unsqueeze(p.decoder_ln_bias, 1));
  const double m = static_cast<double>(K_S.size(2)), d = static_cast<double>(K_S.size(3));
  // Eq. (1), normalised as the spec: 1 / (2 |S| d)
  Tensor squared = fuse([](Expr r, Expr t) { return square(r - t); }, recon, y_S);
  return sum(squared, {2, 3}) * (1.0 / (2.0 * m * d));
}

namespace {

// Tokens of step t: all of them (full-batch GD), or chunk t of each head's permutation (SGD).
// y (B, N, D), y4 its (B, 1, N, D) view.
std::pair<Tensor, Tensor> step_tokens(const TTTOptions& o, const Tensor& K, const Tensor& y, const Tensor& y4,
                                      const Tensor& perm, int t) {
  if (!o.sgd) return {K, y4};
  const std::int64_t B = K.size(0), H = K.size(1), N = K.size(2), D = y.size(2), m = N / o.steps;
  Tensor chunk = slice(perm, 1, t * m, (t + 1) * m);  // (H, m)
  Tensor K_S = gather(K, 2, expand(unsqueeze(unsqueeze(chunk, 0), -1), {B, H, m, K.size(3)}));
  // The targets of all heads in one pick from y itself, (B, N, D) -> (B, H m, D): its adjoint
  // then scatters into y's shape, summing over the heads as it goes, rather than into a
  // (B, H, N, D) buffer that is summed over the heads afterwards.
  Tensor rows = expand(reshape(chunk, {1, H * m, 1}), {B, H * m, D});
  Tensor y_S = reshape(gather(y, 1, rows), {B, H, m, D});
  return {K_S, y_S};
}

// y (B, N, D) through every head's view (H, D, d) and bias (H, d) at once: one product with the
// heads' kernels side by side, (B N, D) @ (D, H d), seen per head as (B, H, N, d).
Tensor project_heads(const Tensor& y, const Tensor& kernel, const Tensor& bias) {
  const std::int64_t B = y.size(0), N = y.size(1), D = y.size(2), H = kernel.size(0), d = kernel.size(2);
  Tensor side_by_side = reshape(permute(kernel, {1, 0, 2}), {D, H * d});
  Tensor projected = matmul(y, side_by_side) + reshape(bias, {H * d});  // (B, N, H d)
  return permute(reshape(projected, {B, N, H, d}), {0, 2, 1, 3});
}

}  // namespace

TTTOutput ttt_forward(const TTTParams& p, const TTTOptions& o, const Tensor& y, const ForwardOptions& f) {
  check(y.rank() == 3, "ttt", "input y has shape {}, expected (B, N, D)", to_string(y.shape()));
  const std::int64_t B = y.size(0), N = y.size(1), D = y.size(2), H = o.heads;
  o.validate(D, N);
  check(p.phi_kernel.size(1) == D, "ttt", "input width {} but phi.kernel is {}", D, to_string(p.phi_kernel.shape()));
  if (o.sgd) {
    check(f.permutation.defined() && f.permutation.dtype() == DType::int64 && f.permutation.shape() == Shape{H, N},
          "ttt", "SGD needs a permutation (H, N) = ({}, {}) of int64, got {}", H, N,
          f.permutation.defined() ? to_string(f.permutation.shape()) : std::string("none"));
  }
  // Whether an outer loop differentiates through this forward (training) or not (evaluation).
  const bool outer = grad_enabled();

  Tensor y4 = unsqueeze(y, 1);                     // (B, 1, N, D)
  Tensor K = project_heads(y, p.phi_kernel, p.phi_bias);  // (B, H, N, d)  training view
  Tensor Q = project_heads(y, p.psi_kernel, p.psi_bias);  // (B, H, N, d)  test view

  TTTOutput out;
  FastWeights W;
  {
    EnableGrad inner_loop;  // the inner loop takes gradients even when the caller records nothing
    for (const Tensor& w0 : p.inner.tensors) {
      Shape shape = w0.shape();
      shape.insert(0, B);  // each image gets its own fast weights
      if (outer && w0.requires_grad())
        W.tensors.push_back(expand(unsqueeze(w0, 0), shape));
      else  // fresh fast weights: nothing of the inner loop reaches an outer graph
        W.tensors.push_back(expand(unsqueeze(w0.detach(), 0), shape).requires_grad_());
    }
    for (int t = 0; t < o.steps; ++t) {
      auto [K_S, y_S] = step_tokens(o, K, y, y4, f.permutation, t);
      Tensor loss = reconstruction_loss(p, o, W, K_S, y_S);  // eq. (1), (B, H)
      if (f.collect_inner_losses) out.inner_losses.push_back(loss.detach());
      // Eq. (2); with create_graph the outer loop differentiates through this step.
      auto grads = grad({sum(loss)}, W.tensors, {}, {.create_graph = outer});
      const double eta = o.eta_at(t);
      for (std::size_t i = 0; i < W.tensors.size(); ++i) {
        W.tensors[i] = fuse([eta](Expr w, Expr g) { return w - eta * g; }, W.tensors[i], grads[i]);
        if (!outer) W.tensors[i] = W.tensors[i].detach().requires_grad_();
      }
      if (f.collect_fast_weights) {
        FastWeights snapshot;
        for (const Tensor& w : W.tensors) snapshot.tensors.push_back(w.detach());
        out.fast_weights.push_back(snapshot);
      }
    }
  }
  if (f.collect_inner_losses) {
    NoGrad values_only;
    out.inner_losses.push_back(reconstruction_loss(p, o, W, K, y4));
  }
  // Eq. (3): predict with the adapted weights; z = sum_h f(W_T, Q_h) h_h + b_h, the sum over
  // heads taken by one product over the concatenated heads.
  Tensor predictions = apply_learner(o.learner, W, Q);  // (B, H, N, d)
  const std::int64_t d = predictions.size(3);
  Tensor concatenated = reshape(permute(predictions, {0, 2, 1, 3}), {B, N, H * d});
  out.z = matmul(concatenated, reshape(p.h_kernel, {H * d, D})) + p.h_bias;
  return out;
}

}  // namespace mttt::ttt
