// The equivalences of the paper, checked numerically through the generic engine (never by a
// closed form of the inner loop):
//  1. MTTT-Linear (T = 1, inner gradient by autodiff) = linear attention with the identity map,
//     whose parameters are built as differentiable functions of the TTT parameters
//     (K = phi, Q = psi, V = eta (y - b_g) g^T, normaliser N d): outputs, and the gradients of
//     every TTT parameter and of y through both graphs (section 4.1, appendix A).
//  2. The kernel learner (Nadaraya-Watson) = softmax self-attention: outputs and gradients
//     (section 4.2, appendix C).
//  3. Inner gradients and outer (second-order) gradients of MTTT-MLP against central finite
//     differences: T = 1, T = 4 full batch, T = 4 SGD with a fixed permutation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mttt::ttt {

struct VerifyRow {
  std::string check, dtype, quantity;
  double error = 0, tolerance = 0;
  bool ok() const { return error <= tolerance; }
};

struct VerifyShape {
  std::int64_t batch = 2, tokens = 8, width = 12, heads = 3;
};

// Identities in float64 (relative tolerance 1e-10) and float32 (1e-4); finite differences in
// float64 (1e-6). Random weights and inputs from `seed`.
std::vector<VerifyRow> verify_equivalences(std::uint64_t seed, const VerifyShape& shape = {});

}  // namespace mttt::ttt
