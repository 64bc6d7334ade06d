// The TTT layer of "Learning to (Learn at Test Time)", as docs/mttt-layer.md pins it
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
#include "mttt/ttt_options.hpp"
#include "mttt/ttt_params.hpp"

namespace mttt::ttt {

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

// The layer on y (B, N, D): equations (1) to (3). Checks the options (TTTOptions::validate) and
// the input against the parameters.
TTTOutput ttt_forward(const TTTParams& p, const TTTOptions& o, const Tensor& y, const ForwardOptions& f = {});

// One random permutation of the N tokens per head, drawn from `generator`, as (H, N) int64.
Tensor draw_permutation(std::int64_t heads, std::int64_t tokens, Generator& generator);

}  // namespace mttt::ttt
