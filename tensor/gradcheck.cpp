#include "tensor/gradcheck.hpp"

#include <cmath>

#include "tensor/autograd.hpp"
#include "tensor/creation.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/index.hpp"
#include "tensor/ops/reduce.hpp"
#include "tensor/ops/shape_ops.hpp"

namespace mttt {

namespace {

std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& inputs, bool requires_grad) {
  std::vector<Tensor> leaves;
  for (const Tensor& x : inputs) {
    Tensor leaf = contiguous(x.detach());
    if (leaf.is_same(x) || leaf.storage() == x.storage()) leaf = from_vector(x.to_vector<double>(), x.shape(), {DType::float64});
    if (requires_grad) leaf.requires_grad_();
    leaves.push_back(leaf);
  }
  return leaves;
}

double projected(const TensorFunction& f, const std::vector<Tensor>& inputs, const Tensor& v) {
  NoGrad no_grad;
  return sum(f(inputs) * v).item<double>();
}

}  // namespace

TensorFunction ad_gradient(const TensorFunction& f, int num_inputs) {
  return [f, num_inputs](const std::vector<Tensor>& args) {
    std::vector<Tensor> inputs(args.begin(), args.begin() + num_inputs);
    const Tensor& v = args[num_inputs];
    EnableGrad enable;
    // Leaves that carry the callers' graphs: x * 1 keeps the dependence on args.
    std::vector<Tensor> xs;
    for (const Tensor& x : inputs) xs.push_back(x.requires_grad() ? x : x.detach().requires_grad_());
    Tensor y = f(xs);
    auto grads = grad({y}, xs, {v}, {.create_graph = true, .allow_unused = true});
    std::vector<Tensor> flat;
    for (const Tensor& g : grads) flat.push_back(reshape(g, {-1}));
    return concat(flat, 0);
  };
}

GradcheckResult gradcheck(const TensorFunction& f_in, const std::vector<Tensor>& inputs_in, const GradcheckOptions& o) {
  check(o.order >= 1, "gradcheck", "order must be at least 1, got {}", o.order);
  for (const Tensor& x : inputs_in)
    check(x.dtype() == DType::float64, "gradcheck", "inputs must be float64 for finite differences, got {}",
          to_string(x.dtype()));
  Generator generator(o.seed);
  TensorFunction f = f_in;
  std::vector<Tensor> inputs = inputs_in;
  // Order n: check the (n-1)-th AD gradient, whose extra inputs are the random projections.
  for (int k = 1; k < o.order; ++k) {
    Tensor y;
    {
      NoGrad no_grad;
      y = f(inputs);
    }
    Tensor v = uniform(y.shape(), -1, 1, {DType::float64}, &generator);
    f = ad_gradient(f, static_cast<int>(inputs.size()));
    inputs.push_back(v);
  }
  std::vector<Tensor> leaves = fresh_leaves(inputs, true);
  Tensor y = f(leaves);
  Tensor v = uniform(y.shape(), -1, 1, {DType::float64}, &generator);
  // A function that does not depend on its inputs (the gradient of a piecewise-constant op,
  // a linear op's second derivative) has zero gradients: no graph leads to them.
  std::vector<Tensor> analytic(leaves.size());
  if (y.requires_grad()) analytic = grad({y}, leaves, {v}, {.allow_unused = true});
  for (std::size_t i = 0; i < leaves.size(); ++i)
    if (!analytic[i].defined()) analytic[i] = zeros(leaves[i].shape(), {DType::float64});

  GradcheckResult result;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    auto base = leaves[i].to_vector<double>();
    auto ad = analytic[i].to_vector<double>();
    for (std::size_t e = 0; e < base.size(); ++e) {
      auto at = [&](double delta) {
        std::vector<Tensor> args = fresh_leaves(leaves, false);
        auto values = base;
        values[e] += delta;
        args[i] = from_vector(values, leaves[i].shape(), {DType::float64});
        return projected(f, args, v);
      };
      double numeric = (at(o.eps) - at(-o.eps)) / (2 * o.eps);
      double err = std::abs(numeric - ad[e]);
      double rel = err / std::max(std::abs(numeric), 1e-12);
      result.max_abs_error = std::max(result.max_abs_error, err);
      result.max_rel_error = std::max(result.max_rel_error, std::min(rel, err));
      if (err > o.atol + o.rtol * std::abs(numeric) && result.ok) {
        result.ok = false;
        result.message = fmt::format("order {}: input {} element {}: AD {:.12g} vs finite differences {:.12g}", o.order,
                                     i, e, ad[e], numeric);
      }
    }
  }
  return result;
}

}  // namespace mttt
