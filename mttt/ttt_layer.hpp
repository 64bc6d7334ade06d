// The TTT layer of "Learning to (Learn at Test Time)", as ../shared/spec/mttt-layer.md pins it
// down. Dimensions: B images, N tokens, D width, H heads, d = D / H per head.
//
// For each image and head, the layer learns a model f on the image's own tokens (the inner
// loop) and predicts with it:
//   K = y phi + b_phi, Q = y psi + b_psi                               training and test views
//   (1) loss(W, S) = 1/(2|S|d) sum_{i in S} || LN(f(W, K_i) g + b_g) - y_i ||^2   reconstruction
//   (2) W_t = W_{t-1} - eta_t grad_W loss(W_{t-1}, S_t),  t = 1..T      gradient steps
//   (3) z = sum_h f(W_T, Q) h_h + b_h                                   prediction
// The outer loop (ordinary training of the whole model) differentiates through (2): the inner
// gradients are taken with create_graph while grad mode is on. Under NoGrad (evaluation) the
// inner loop still runs, first order, on fresh fast weights, and records nothing else.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mttt/learner.hpp"
#include "nn/optim/named_tensors.hpp"

namespace mttt::ttt {

enum class InitScheme { fixed, paper };

struct TTTOptions {
  LearnerKind learner = LearnerKind::mlp;
  std::int64_t heads = 1;
  int steps = 1;              // T
  std::vector<double> eta;    // eta_t for t = 1..T; empty: 1 for every step
  bool sgd = false;           // mini-batch steps on a random split of the tokens (else full batch)
  bool decoder_ln = true;     // the "decoder LN" on the reconstruction
  bool train_w0 = true;       // MTTT-Linear: W0 = 0, frozen
  InitScheme init = InitScheme::fixed;

  static TTTOptions mttt_linear(std::int64_t heads);
  static TTTOptions mttt_mlp(std::int64_t heads, int steps = 1, bool sgd = false);
  double eta_at(int t) const { return eta.empty() ? 1.0 : eta[static_cast<std::size_t>(t)]; }
  // Throws naming the problem (eta count, heads, ...).
  void validate(std::int64_t width) const;
};

struct TTTParams {
  Tensor phi_kernel, phi_bias;        // (H, D, d), (H, d)   theta_phi, the training view ("key")
  Tensor psi_kernel, psi_bias;        // (H, D, d), (H, d)   theta_psi, the test view ("query")
  Tensor g_kernel, g_bias;            // (H, d, D), (D)      theta_g, the decoder ("value")
  Tensor h_kernel, h_bias;            // (H, d, D), (D)      theta_h, the output projection
  Tensor decoder_ln_scale, decoder_ln_bias;  // (H, D), (H, D); undefined without decoder LN
  FastWeights inner;                  // W0

  // The spec's names without a prefix: phi.kernel, ..., inner.0.kernel, ...
  nn::NamedTensors named(const TTTOptions& options) const;
  // Strict: a missing or unexpected name, or a shape that disagrees with H and D, is an error
  // naming it.
  static TTTParams from_named(const nn::NamedTensors& tensors, const TTTOptions& options);
};

// Initial parameters as the spec's table (U(+-sqrt(3/D)) views, zero biases, LN 1/0, W0 per
// learner: 0 for linear, xavier_uniform per head for the MLP; `paper` init: sqrt(H) smaller).
// Frozen W0 (train_w0 false) does not require grad.
TTTParams init_ttt_params(const TTTOptions& options, std::int64_t width, Generator& generator,
                          DType dtype = DType::float32);

struct TTTOutput {
  Tensor z;                                 // (B, N, D)
  // With collect_inner_losses: T + 1 tensors (B, H): loss(W_t, S_{t+1}) for t < T, then
  // loss(W_T, all tokens). Values only (detached).
  std::vector<Tensor> inner_losses;
  std::vector<FastWeights> fast_weights;    // with collect_fast_weights: W_1..W_T, detached
};

struct ForwardOptions {
  Tensor permutation = Tensor();  // SGD: (H, N) int64 token order per head; required when options.sgd
  bool collect_inner_losses = false;
  bool collect_fast_weights = false;
};

// Equation (1) for every image and head: (B, H). K_S (B, H, m, d), y_S (B, 1 or H, m, D).
Tensor reconstruction_loss(const TTTParams& p, const TTTOptions& o, const FastWeights& W, const Tensor& K_S,
                           const Tensor& y_S);

// The layer on y (B, N, D): equations (1) to (3).
TTTOutput ttt_forward(const TTTParams& p, const TTTOptions& o, const Tensor& y, const ForwardOptions& f = {});

// One random permutation of the N tokens per head, drawn from `generator`, as (H, N) int64.
Tensor draw_permutation(std::int64_t heads, std::int64_t tokens, Generator& generator);

}  // namespace mttt::ttt
