#include "tensor/ops/reduce.hpp"

#include <limits>

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/shape_ops.hpp"

namespace mttt {

namespace {

std::uint32_t axis_mask(const Tensor& x, const Axes& axes, const char* op) {
  if (axes.empty()) return x.rank() == 0 ? 0u : (x.rank() >= 32 ? ~0u : (1u << x.rank()) - 1);
  std::uint32_t mask = 0;
  for (auto a : axes) {
    int axis = normalize_axis(a, x.rank(), op);
    if (mask >> axis & 1u) fail(op, "axis {} is listed twice for shape {}", axis, to_string(x.shape()));
    mask |= 1u << axis;
  }
  return mask;
}

Shape kept_shape(const Shape& shape, std::uint32_t mask) {
  Shape kept = shape;
  for (int i = 0; i < shape.size(); ++i)
    if (mask >> i & 1u) kept[i] = 1;
  return kept;
}

Shape dropped_shape(const Shape& shape, std::uint32_t mask) {
  Shape out;
  for (int i = 0; i < shape.size(); ++i)
    if (!(mask >> i & 1u)) out.push_back(shape[i]);
  return out;
}

std::int64_t reduced_count(const Shape& shape, std::uint32_t mask) {
  std::int64_t n = 1;
  for (int i = 0; i < shape.size(); ++i)
    if (mask >> i & 1u) n *= shape[i];
  return n;
}

Tensor run_reduce(ReduceOp op, const char* name, const Tensor& x, std::uint32_t mask) {
  if (op != ReduceOp::sum)
    if (reduced_count(x.shape(), mask) <= 0)
      fail(name, "cannot reduce an empty axis of shape {}", to_string(x.shape()));
  bool index = op == ReduceOp::argmax || op == ReduceOp::argmin;
  Tensor out = Tensor::empty(kept_shape(x.shape(), mask), index ? DType::int64 : x.dtype(), x.device());
  backend_of(x).reduce(op, x, mask, out);
  return out;
}

Tensor finish(const Tensor& kept, const Tensor& x, std::uint32_t mask, bool keepdim) {
  return keepdim ? kept : reshape(kept, dropped_shape(x.shape(), mask));
}

// max and min: the cotangent goes to the elements equal to the extremum, split evenly
// among ties. The mask is piecewise constant, so the rule is exact at every order.
Tensor extremum(ReduceOp op, const char* name, const Tensor& x, const Axes& axes, bool keepdim) {
  MTTT_OP_SCOPE(name);
  std::uint32_t mask = axis_mask(x, axes, name);
  Tensor out = run_reduce(op, name, x, mask);
  Tensor kept = record(name, out, {x}, [x, value = out.detach(), mask](const Tensor& g, NeedsGrad) {
    Tensor hit = eq(x.detach(), value);
    std::vector<std::int64_t> axes;
    for (int i = 0; i < x.rank(); ++i)
      if (mask >> i & 1u) axes.push_back(i);
    Tensor ties = sum(hit, axes, true);
    return Grads{hit * g / ties};
  });
  return finish(kept, x, mask, keepdim);
}

}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
  MTTT_OP_SCOPE("sum");
  std::uint32_t mask = axis_mask(x, axes, "sum");
  Tensor out = run_reduce(ReduceOp::sum, "sum", x, mask);
  Tensor kept = record("sum", out, {x}, [shape = x.shape()](const Tensor& g, NeedsGrad) {
    return Grads{expand(g, shape)};  // d sum = broadcast of the cotangent
  });
  return finish(kept, x, mask, keepdim);
}

Tensor mean(const Tensor& x, const Axes& axes, bool keepdim) {
  // Its 1/n scale would be truncated to 0 in int64.
  if (!is_floating(x.dtype()))
    fail("mean", "needs a floating-point input, got int64 {}; cast first", to_string(x.shape()));
  std::int64_t n = reduced_count(x.shape(), axis_mask(x, axes, "mean"));
  if (n <= 0) fail("mean", "mean over an empty axis of shape {}", to_string(x.shape()));
  return sum(x, axes, keepdim) * (1.0 / static_cast<double>(n));
}

Tensor max(const Tensor& x, const Axes& axes, bool keepdim) { return extremum(ReduceOp::max, "max", x, axes, keepdim); }
Tensor min(const Tensor& x, const Axes& axes, bool keepdim) { return extremum(ReduceOp::min, "min", x, axes, keepdim); }

Tensor var(const Tensor& x, const Axes& axes, bool keepdim, std::int64_t correction) {
  if (!is_floating(x.dtype()))
    fail("var", "needs a floating-point input, got int64 {}; cast first", to_string(x.shape()));
  std::int64_t n = reduced_count(x.shape(), axis_mask(x, axes, "var"));
  check(n - correction > 0, "var", "{} elements with correction {} leave no degrees of freedom", n, correction);
  Tensor centred = x - mean(x, axes, true);
  return sum(fuse([](Expr c) { return c * c; }, centred), axes, keepdim) * (1.0 / static_cast<double>(n - correction));
}

Tensor logsumexp(const Tensor& x, const Axes& axes, bool keepdim) {
  if (!is_floating(x.dtype()))
    fail("logsumexp", "needs a floating-point input, got int64 {}; cast first", to_string(x.shape()));
  // log sum exp x = m + log sum exp(x - m), m the (constant) maximum: no overflow, and the
  // gradient is softmax(x) since m does not depend on x.
  Tensor m = max(x.detach(), axes, true);
  Tensor finite_m = fuse([](Expr v) { return where(eq(v - v, v.constant(0)), v, v.constant(0)); }, m);
  Tensor s = sum(fuse([](Expr a, Expr b) { return exp(a - b); }, x, finite_m), axes, true);
  Tensor out = fuse([](Expr a, Expr b) { return log(a) + b; }, s, finite_m);
  return keepdim ? out : reshape(out, dropped_shape(x.shape(), axis_mask(x, axes, "logsumexp")));
}

Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim) {
  MTTT_OP_SCOPE("argmax");
  std::uint32_t mask = 1u << normalize_axis(axis, x.rank(), "argmax");
  return finish(run_reduce(ReduceOp::argmax, "argmax", x, mask), x, mask, keepdim);
}

Tensor argmin(const Tensor& x, std::int64_t axis, bool keepdim) {
  MTTT_OP_SCOPE("argmin");
  std::uint32_t mask = 1u << normalize_axis(axis, x.rank(), "argmin");
  return finish(run_reduce(ReduceOp::argmin, "argmin", x, mask), x, mask, keepdim);
}

}  // namespace mttt
