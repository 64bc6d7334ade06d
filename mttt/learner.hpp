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

LearnerKind parse_learner(const std::string& name);
std::string to_string(LearnerKind kind);

// The fast weights W = (W1, b1, W2, b2) for the MLP, (W) for the linear learner; the names the
// spec gives them under the layer's prefix are inner_names().
struct FastWeights {
  std::vector<Tensor> tensors;
};

std::vector<std::string> inner_names(LearnerKind kind);
// Shapes of W0 for H heads of width d.
std::vector<Shape> inner_shapes(LearnerKind kind, std::int64_t heads, std::int64_t d);

// f(W, k) for k (B, H, n, d) and W with leading axes (H) or (B, H).
Tensor apply_learner(LearnerKind kind, const FastWeights& W, const Tensor& k);

}  // namespace mttt::ttt
