// The equivalences of the paper, checked numerically through the generic engine (never by a
// closed form of the inner loop), at any shape and on any device:
//  1. MTTT-Linear (T = 1, inner gradient by autodiff) = linear attention with the identity map,
//     whose parameters are built as differentiable functions of the TTT parameters
//     (K = phi, Q = psi, V = eta (y - b_g) g^T, normaliser N d): outputs, and the gradients of
//     every TTT parameter and of y through both graphs (section 4.1, appendix A).
//  2. The kernel learner (Nadaraya-Watson) = softmax self-attention: outputs and gradients
//     (section 4.2, appendix C).
//  3. Inner gradients (eq. 2) and outer, second-order gradients (through eq. 2) of MTTT-MLP
//     against central finite differences in float64: T = 1, T = 4 full batch, T = 4 SGD with a
//     fixed permutation. gradcheck's fast mode (w^T J v along random directions), so that a row
//     costs a few passes whatever the size.
//
// Tolerances scale with the shape. Each row carries an estimate of float rounding at its size
// and fails only beyond kToleranceMultiple times it:
//  - identities, error max|a - b| / max|b| in the row's dtype: one output sums n = N + D + d
//    terms along its longest chain (tokens, width, head width); rounding errors of random sign
//    grow as sqrt(n), so the estimate is u sqrt(N + D + d), u the unit roundoff (2^-53 or 2^-24);
//  - finite differences, error |AD - FD| of w^T J v: the central difference of <f, w> over 2 eps
//    carries the rounding of f's evaluation, u_64 sqrt(n) ||w * f(x)||_2 / eps with n = N + D + d
//    for the inner loss and T (N + D + d) for the layer (T inner steps), plus its truncation
//    eps^2 |d^3 <f, w> / d t^3| / 6, measured from a second difference at 2 eps (gradcheck's
//    `rounding` and `truncation`).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/device.hpp"

namespace mttt::ttt {

// A row fails beyond this multiple of its rounding estimate.
inline constexpr double kToleranceMultiple = 10;

struct VerifyRow {
  std::string group;  // the computation it comes from, as --rows names it: "linear-attention/float32"
  std::string check, dtype, quantity;
  double error = 0;
  double estimate = 0;  // float rounding (and, for finite differences, truncation) at this size
  double tolerance() const { return kToleranceMultiple * estimate; }
  bool ok() const { return error <= tolerance(); }
};

struct VerifyShape {
  std::int64_t batch = 2, tokens = 8, width = 12, heads = 3;
};

struct VerifyOptions {
  VerifyShape shape;
  std::uint64_t seed = 0;
  Device device = kCPU;
  // Groups to run, each a name of verify_groups() or a prefix of names ending before a '/'
  // ("mlp-t4-sgd" for its inner and outer rows); empty: every group. An unknown name is an
  // error listing the names.
  std::vector<std::string> rows;
  // Called before each group runs: its name, its position and how many groups run.
  std::function<void(const std::string& group, std::size_t index, std::size_t count)> on_group;
};

// The names of the groups in the order they run.
std::vector<std::string> verify_groups();

// Throws, naming the problem, for a shape the checks cannot take (H not dividing D, N not
// divisible by 4 for the SGD rows) or an unknown row name.
std::vector<VerifyRow> verify_equivalences(const VerifyOptions& options);

}  // namespace mttt::ttt
