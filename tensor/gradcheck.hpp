// Finite-difference checks of gradients, for anyone adding an op (float64 inputs).
//
//   auto f = [](const std::vector<Tensor>& x) { return tanh(x[0]) * x[1]; };
//   GradcheckResult r = gradcheck(f, {a, b});              // first order
//   GradcheckResult r2 = gradcheck(f, {a, b}, {.order = 2}); // second order
//
// Order 1 compares the AD gradient of <f(x), v> (v random and fixed) with central differences
// of <f(x), v>, element by element of every input. Order n + 1 applies the same check to the
// function (x, v) -> AD gradient of <f(x), v> taken with create_graph, so higher orders are
// finite differences of the AD gradient (more accurate than nested finite differences).
#pragma once

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
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  double max_rel_error = 0;
  std::string message;  // the first mismatch: input, element, AD value, numeric value
};

GradcheckResult gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

// The function (inputs..., v) -> flattened AD gradient of <f(inputs), v> (create_graph).
TensorFunction ad_gradient(const TensorFunction& f, int num_inputs);

}  // namespace mttt
