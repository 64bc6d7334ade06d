#include "tensor/ops/norm.hpp"

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/reduce.hpp"
#include "tensor/ops/shape_ops.hpp"

namespace mttt {

Tensor layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps) {
  MTTT_OP_SCOPE("layer_norm");
  if (!is_floating(x.dtype())) fail("layer_norm", "needs a floating-point input, got {}", to_string(x.dtype()));
  check(x.rank() >= 1, "layer_norm", "needs at least one axis, got a scalar");
  const std::int64_t d = x.size(-1);
  for (const Tensor* p : {&scale, &bias}) {
    if (!p->defined()) continue;
    if (p->device() != x.device())
      fail("layer_norm", "input is on {} but {} is on {}", to_string(x.device()), p == &scale ? "scale" : "bias",
           to_string(p->device()));
    if (!(p->rank() == 1 && p->size(0) == d))
      fail("layer_norm", "input {}: {} has shape {}, expected ({},)", to_string(x.shape()),
           p == &scale ? "scale" : "bias", to_string(p->shape()), d);
    if (p->dtype() != x.dtype())
      fail("layer_norm", "input is {} but {} is {}", to_string(x.dtype()), p == &scale ? "scale" : "bias",
           to_string(p->dtype()));
  }
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_of(x).layer_norm(x, scale, bias, eps, out);
  // x-hat = (x - mu) r, r = (var + eps)^(-1/2), y = x-hat * scale + bias. With gy = g * scale:
  //   x-bar = r (gy - mean(gy) - x-hat mean(gy x-hat)),  scale-bar = sum g x-hat,  bias-bar = sum g.
  // The statistics are recomputed from x with differentiable ops, so the rule has a
  // derivative of its own.
  return record("layer_norm", out, {x, scale, bias}, [x, scale, eps](const Tensor& g, NeedsGrad needs) {
    Tensor mu = mean(x, {-1}, true);
    Tensor centred = x - mu;
    Tensor r = rsqrt(mean(square(centred), {-1}, true) + eps);
    Tensor xhat = centred * r;
    Grads grads(3);
    if (needs[0]) {
      Tensor gy = scale.defined() ? g * scale : g;
      Tensor m1 = mean(gy, {-1}, true);
      Tensor m2 = mean(gy * xhat, {-1}, true);
      grads[0] = fuse([](Expr r_, Expr gy_, Expr m1_, Expr xh, Expr m2_) { return r_ * (gy_ - m1_ - xh * m2_); }, r, gy,
                      m1, xhat, m2);
    }
    if (needs[1]) grads[1] = sum_to(g * xhat, scale.shape());
    if (needs[2]) grads[2] = sum_to(g, {x.size(-1)});
    return grads;
  });
}

}  // namespace mttt
