// Finite-difference checks of gradients, for anyone adding an op (float64 inputs, on any device).
//
//   auto f = [](const std::vector<Tensor>& x) { return tanh(x[0]) * x[1]; };
//   GradcheckResult r = gradcheck(f, {a, b});                            // first order
//   GradcheckResult r2 = gradcheck(f, {a, b}, {.order = 2});               // second order
//   GradcheckResult big = gradcheck(f, {a, b}, {.order = 2, .fast = true}); // any size
//
// Order 1 compares the AD gradient of <f(x), w> (w random and fixed) with central differences
// of <f(x), w>. The full mode does so element by element of every input: two evaluations of f
// per input element, for small inputs and the unit tests. The fast mode (PyTorch's fast_mode)
// compares w^T J v for random directions v of each input: AD gives it as <J^T w, v> from one
// backward sweep, central differences as (<f(x + eps v), w> - <f(x - eps v), w>) / (2 eps), so a
// check costs two evaluations per input and direction and one sweep per direction, whatever the
// size. The entries of w and v are uniform in [-1, 1], so every input element moves by at most
// eps, as in the full mode.
// Order n + 1 applies the same check to the function (x, w) -> AD gradient of <f(x), w> taken
// with create_graph, so higher orders are finite differences of the AD gradient (more accurate
// than nested finite differences).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/core.hpp"

namespace mttt {

using TensorFunction = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  int order = 1;
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
  std::uint64_t seed = 1234;
  bool fast = false;   // compare w^T J v along random directions instead of every element
  int directions = 2;  // fast mode: (w, v) pairs per input
  // Also evaluate each central difference at 2 eps, which measures its truncation error (two
  // more evaluations per comparison).
  bool measure_truncation = false;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  double max_rel_error = 0;
  double max_abs_numeric = 0;  // the largest finite difference compared: the scale of the errors
  // Float64 rounding in the central differences, one rounding per element of f:
  // 2^-53 ||w * f(x)||_2 / eps (the largest over the projections w). A function whose evaluation
  // sums many terms rounds more: callers that know the sizes scale it (mttt/verify.hpp).
  double rounding = 0;
  // With measure_truncation: the largest |D(eps) - D(2 eps)| / 3 of the central differences D,
  // their truncation error eps^2 |f'''| / 6 (and rounding of the same order as `rounding`).
  double truncation = 0;
  std::int64_t evaluations = 0;  // evaluations of the checked function for finite differences
  std::string message;           // the first mismatch: input, element or direction, AD value, numeric value
};

GradcheckResult gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

// The function (inputs..., v) -> flattened AD gradient of <f(inputs), v> (create_graph).
TensorFunction ad_gradient(const TensorFunction& f, int num_inputs);

}  // namespace mttt
