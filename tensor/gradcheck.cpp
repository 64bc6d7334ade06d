#include "tensor/gradcheck.hpp"

#include <cmath>
#include <limits>

#include "tensor/autograd.hpp"
#include "tensor/creation.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/index.hpp"
#include "tensor/ops/inplace.hpp"
#include "tensor/ops/reduce.hpp"
#include "tensor/ops/shape_ops.hpp"
#include "tensor/ops/transfer.hpp"

namespace mttt {

namespace {

constexpr double kUnitRoundoff = std::numeric_limits<double>::epsilon() / 2;  // 2^-53

// Leaves with the inputs' values in storage of their own, on the inputs' devices.
std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> leaves;
  for (const Tensor& x : inputs) {
    Tensor leaf = empty(x.shape(), {DType::float64, x.device()});
    {
      NoGrad off;
      copy_(leaf, x.detach());
    }
    leaves.push_back(leaf.requires_grad_());
  }
  return leaves;
}

std::vector<Tensor> detached(const std::vector<Tensor>& leaves) {
  std::vector<Tensor> values;
  for (const Tensor& x : leaves) values.push_back(x.detach());
  return values;
}

double dot(const Tensor& a, const Tensor& b) {
  NoGrad off;
  return sum(a * b).item<double>();
}

// Reduces an order-n check to an order-1 check of the (n-1)-th AD gradient, whose extra
// inputs are the random projections.
void raise_order(TensorFunction& f, std::vector<Tensor>& inputs, int order, Generator& generator) {
  for (int k = 1; k < order; ++k) {
    Tensor y;
    {
      NoGrad no_grad;
      y = f(inputs);
    }
    Tensor w = uniform(y.shape(), -1, 1, {DType::float64, y.device()}, &generator);
    f = ad_gradient(f, static_cast<int>(inputs.size()));
    inputs.push_back(w);
  }
}

class Comparison {
 public:
  Comparison(const GradcheckOptions& o, GradcheckResult& r) : o_(o), r_(r) {}

  // Central differences of <f, w> along the perturbation `shifted(delta)` of the inputs.
  template <class Shift> double central_difference(const TensorFunction& f, const Tensor& w, Shift shifted) {
    NoGrad off;
    auto at = [&](double step) {
      r_.evaluations += 2;
      const double plus = sum(f(shifted(step)) * w).template item<double>();
      const double minus = sum(f(shifted(-step)) * w).template item<double>();
      return (plus - minus) / (2 * step);
    };
    const double d = at(o_.eps);
    // D(h) = f' + h^2 f''' / 6 + O(h^4): D(2 eps) - D(eps) is three times D(eps)'s truncation.
    if (o_.measure_truncation) r_.truncation = std::max(r_.truncation, std::abs(at(2 * o_.eps) - d) / 3);
    return d;
  }

  void rounding(const Tensor& y, const Tensor& w) {
    NoGrad off;
    r_.rounding = std::max(r_.rounding, kUnitRoundoff * std::sqrt(sum(square(y * w)).item<double>()) / o_.eps);
  }

  // `where` names the compared quantity in the message of the first mismatch.
  template <class Where> void compare(double ad, double numeric, Where where) {
    const double err = std::abs(numeric - ad);
    const double rel = err / std::max(std::abs(numeric), 1e-12);
    r_.max_abs_error = std::max(r_.max_abs_error, err);
    r_.max_rel_error = std::max(r_.max_rel_error, std::min(rel, err));
    r_.max_abs_numeric = std::max(r_.max_abs_numeric, std::abs(numeric));
    if (err > o_.atol + o_.rtol * std::abs(numeric) && r_.ok) {
      r_.ok = false;
      r_.message =
          fmt::format("order {}: {}: AD {:.12g} vs finite differences {:.12g}", o_.order, where(), ad, numeric);
    }
  }

 private:
  const GradcheckOptions& o_;
  GradcheckResult& r_;
};

// The AD gradients of <y, w> in the leaves; zeros where y does not depend on a leaf (the
// gradient of a piecewise-constant op, a linear op's second derivative: no graph leads there).
std::vector<Tensor> analytic_gradients(const Tensor& y, const std::vector<Tensor>& leaves, const Tensor& w) {
  std::vector<Tensor> g(leaves.size());
  if (y.requires_grad()) g = grad({y}, leaves, {w}, {.retain_graph = true, .allow_unused = true});
  for (std::size_t i = 0; i < leaves.size(); ++i)
    if (!g[i].defined()) g[i] = zeros(leaves[i].shape(), {DType::float64, leaves[i].device()});
  return g;
}

void full_check(const TensorFunction& f, const std::vector<Tensor>& leaves, const Tensor& y, Generator& generator,
                Comparison& c) {
  Tensor w = uniform(y.shape(), -1, 1, {DType::float64, y.device()}, &generator);
  c.rounding(y, w);
  std::vector<Tensor> analytic = analytic_gradients(y, leaves, w);
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    auto base = leaves[i].to_vector<double>();
    auto ad = analytic[i].to_vector<double>();
    for (std::size_t e = 0; e < base.size(); ++e) {
      double numeric = c.central_difference(f, w, [&](double delta) {
        std::vector<Tensor> args = detached(leaves);
        auto values = base;
        values[e] += delta;
        args[i] = to(from_vector(values, leaves[i].shape(), {DType::float64}), leaves[i].device());
        return args;
      });
      c.compare(ad[e], numeric, [&] { return fmt::format("input {} element {}", i, e); });
    }
  }
}

void fast_check(const TensorFunction& f, const std::vector<Tensor>& leaves, const Tensor& y, int directions,
                Generator& generator, Comparison& c) {
  for (int k = 0; k < directions; ++k) {
    Tensor w = uniform(y.shape(), -1, 1, {DType::float64, y.device()}, &generator);
    c.rounding(y, w);
    std::vector<Tensor> analytic = analytic_gradients(y, leaves, w);
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      Tensor v = uniform(leaves[i].shape(), -1, 1, {DType::float64, leaves[i].device()}, &generator);
      double numeric = c.central_difference(f, w, [&](double delta) {
        std::vector<Tensor> args = detached(leaves);
        args[i] = args[i] + v * delta;
        return args;
      });
      c.compare(dot(analytic[i], v), numeric, [&] { return fmt::format("input {} direction {} (w^T J v)", i, k); });
    }
  }
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
  check(o.directions >= 1, "gradcheck", "directions must be at least 1, got {}", o.directions);
  check(o.eps > 0, "gradcheck", "eps must be positive, got {}", o.eps);
  for (const Tensor& x : inputs_in)
    check(x.dtype() == DType::float64, "gradcheck", "inputs must be float64 for finite differences, got {}",
          to_string(x.dtype()));
  Generator generator(o.seed);
  TensorFunction f = f_in;
  std::vector<Tensor> inputs = inputs_in;
  raise_order(f, inputs, o.order, generator);
  std::vector<Tensor> leaves = fresh_leaves(inputs);
  Tensor y = f(leaves);
  GradcheckResult result;
  Comparison comparison(o, result);
  if (o.fast)
    fast_check(f, leaves, y, o.directions, generator, comparison);
  else
    full_check(f, leaves, y, generator, comparison);
  return result;
}

}  // namespace mttt
