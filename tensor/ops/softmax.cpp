#include "tensor/ops/softmax.hpp"

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/reduce.hpp"

namespace mttt {

namespace {
Tensor run_softmax(const Tensor& x, std::int64_t axis_, bool log, const char* name) {
  MTTT_OP_SCOPE(name);
  if (!is_floating(x.dtype())) fail(name, "needs a floating-point input, got {}", to_string(x.dtype()));
  check(x.rank() >= 1, name, "needs at least one axis, got a scalar");
  int axis = normalize_axis(axis_, x.rank(), name);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_of(x).softmax(x, axis, log, out);
  return out;
}
}  // namespace

Tensor softmax(const Tensor& x, std::int64_t axis) {
  Tensor out = run_softmax(x, axis, false, "softmax");
  // y = softmax(x):  x-bar = y * (g - sum(g * y))
  return record_with_output("softmax", out, {x}, [axis](const Tensor& g, NeedsGrad, const Tensor& y) {
    Tensor gy = sum(g * y, {axis}, true);
    return Grads{fuse([](Expr g_, Expr y_, Expr s) { return y_ * (g_ - s); }, g, y, gy)};
  });
}

Tensor log_softmax(const Tensor& x, std::int64_t axis) {
  Tensor out = run_softmax(x, axis, true, "log_softmax");
  // y = log softmax(x):  x-bar = g - exp(y) * sum(g)
  return record_with_output("log_softmax", out, {x}, [axis](const Tensor& g, NeedsGrad, const Tensor& y) {
    Tensor total = sum(g, {axis}, true);
    return Grads{fuse([](Expr g_, Expr y_, Expr s) { return g_ - exp(y_) * s; }, g, y, total)};
  });
}

}  // namespace mttt
