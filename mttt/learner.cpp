#include "mttt/learner.hpp"

namespace mttt::ttt {

std::string to_string(LearnerKind kind) { return kind == LearnerKind::linear ? "linear" : "mlp"; }

namespace {
// A per-head bias (..., H, w) as (..., H, 1, w), to broadcast over the tokens.
Tensor over_tokens(const Tensor& bias) { return unsqueeze(bias, -2); }
}  // namespace

Tensor apply_learner(LearnerKind kind, const FastWeights& W, const Tensor& k) {
  const auto& w = W.tensors;
  if (kind == LearnerKind::linear) return matmul(k, w[0]);
  Tensor hidden = fuse([](Expr a, Expr b) { return gelu(a + b); }, matmul(k, w[0]), over_tokens(w[1]));
  return matmul(hidden, w[2]) + over_tokens(w[3]);
}

}  // namespace mttt::ttt
