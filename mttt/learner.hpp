// The learners f of a TTT layer: the model that the inner loop trains on each instance.
//
//   linear  f(W, k) = k W                                W (d, d)             (MTTT-Linear)
//   mlp     f(W, k) = gelu(k W1 + b1) W2 + b2            W1 (d, 4d), W2 (4d, d) (MTTT-MLP)
//
// Fast weights carry leading batch axes: W0 is (H, ...) per head; once the inner loop starts,
// each instance gets its own copy, (B, H, ...). k is (B, H, n, d).
#pragma once

#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace mttt::ttt {

enum class LearnerKind { linear, mlp };

std::string to_string(LearnerKind kind);

// The fast weights W = (W1, b1, W2, b2) for the MLP, (W) for the linear learner; their names,
// shapes and initialisers are rows of the layer's parameter table (mttt/ttt_params.hpp).
struct FastWeights {
  std::vector<Tensor> tensors;
};

// f(W, k) for k (B, H, n, d) and W with leading axes (H) or (B, H).
Tensor apply_learner(LearnerKind kind, const FastWeights& W, const Tensor& k);

}  // namespace mttt::ttt
