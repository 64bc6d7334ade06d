#include "mttt/learner.hpp"

namespace mttt::ttt {

LearnerKind parse_learner(const std::string& name) {
  if (name == "linear") return LearnerKind::linear;
  if (name == "mlp") return LearnerKind::mlp;
  fail("learner", "unknown learner '{}': expected linear or mlp", name);
}

std::string to_string(LearnerKind kind) { return kind == LearnerKind::linear ? "linear" : "mlp"; }

std::vector<std::string> inner_names(LearnerKind kind) {
  if (kind == LearnerKind::linear) return {"inner.0.kernel"};
  return {"inner.0.kernel", "inner.0.bias", "inner.1.kernel", "inner.1.bias"};
}

std::vector<Shape> inner_shapes(LearnerKind kind, std::int64_t heads, std::int64_t d) {
  if (kind == LearnerKind::linear) return {{heads, d, d}};
  return {{heads, d, 4 * d}, {heads, 4 * d}, {heads, 4 * d, d}, {heads, d}};
}

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
