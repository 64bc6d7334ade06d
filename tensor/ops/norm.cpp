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
  // x-bar is one pass (layer_norm_backward), itself differentiable, so the rule has derivatives
  // of every order.
  return record("layer_norm", out, {x, scale, bias}, [x, scale, eps](const Tensor& g, NeedsGrad needs) {
    Grads grads(3);
    if (needs[0]) grads[0] = layer_norm_backward(x, scale.defined() ? g * scale : g, eps);
    if (needs[1]) {
      Tensor centred = x - mean(x, {-1}, true);
      Tensor xhat = centred * rsqrt(mean(square(centred), {-1}, true) + eps);
      grads[1] = sum_to(g * xhat, scale.shape());
    }
    if (needs[2]) grads[2] = sum_to(g, {x.size(-1)});
    return grads;
  });
}

Tensor layer_norm_backward(const Tensor& x, const Tensor& gy, double eps) {
  MTTT_OP_SCOPE("layer_norm_backward");
  if (!is_floating(x.dtype()))
    fail("layer_norm_backward", "needs a floating-point input, got {}", to_string(x.dtype()));
  check(x.rank() >= 1, "layer_norm_backward", "needs at least one axis, got a scalar");
  if (gy.shape() != x.shape())
    fail("layer_norm_backward", "x has shape {} but gy has shape {}, expected the same", to_string(x.shape()),
         to_string(gy.shape()));
  if (gy.dtype() != x.dtype())
    fail("layer_norm_backward", "x is {} but gy is {}", to_string(x.dtype()), to_string(gy.dtype()));
  if (gy.device() != x.device())
    fail("layer_norm_backward", "x is on {} but gy is on {}", to_string(x.device()), to_string(gy.device()));
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_of(x).layer_norm_backward(x, gy, eps, out);
  // out = r (gy - m1 - x-hat m2), m1 = mean(gy), m2 = mean(gy x-hat), linear in gy. For a
  // cotangent u:
  //   gy-bar = layer_norm_backward(x, u): the map gy -> out is self-adjoint;
  //   x-bar = r (c - mean(c) - x-hat mean(c x-hat)) - r^2 a x-hat, the first term c's way back
  //   through x-hat, with c = -r (m2 u + mean(u x-hat) gy) the cotangent reaching x-hat, and
  //   a = mean(u gy) - m1 mean(u) - m2 mean(u x-hat) that reaching r (dr/dx = -r^2 x-hat / D).
  // c's two means follow from the row statistics, so x-bar is one pass after them.
  // When nothing records the rule's results (a first- or second-order sweep without create_graph,
  // the outer backward of training), both come from one pass; otherwise from differentiable ops.
  return record("layer_norm_backward", out, {x, gy}, [x, gy, eps](const Tensor& u, NeedsGrad needs) {
    Grads grads(2);
    if (!grad_enabled()) {
      if (needs[0]) grads[0] = Tensor::empty(x.shape(), x.dtype(), x.device());
      if (needs[1]) grads[1] = Tensor::empty(x.shape(), x.dtype(), x.device());
      backend_of(x).layer_norm_backward_vjp(x, gy, u, eps, grads[0], grads[1]);
      return grads;
    }
    if (needs[1]) grads[1] = layer_norm_backward(x, u, eps);
    if (needs[0]) {
      auto row_mean = [](const Tensor& t) { return mean(t, {-1}, true); };
      Tensor mu = row_mean(x);
      Tensor r = rsqrt(row_mean(fuse([](Expr x_, Expr mu_) { return square(x_ - mu_); }, x, mu)) + eps);
      auto mean_times_xhat = [&](const Tensor& t) {
        return row_mean(fuse([](Expr t_, Expr x_, Expr mu_, Expr r_) { return t_ * (x_ - mu_) * r_; }, t, x, mu, r));
      };
      Tensor m1 = row_mean(gy), m2 = mean_times_xhat(gy), u_xhat = mean_times_xhat(u), u_mean = row_mean(u);
      Tensor a = row_mean(u * gy) - m1 * u_mean - m2 * u_xhat;
      grads[0] = fuse_all(
          [](const std::vector<Expr>& v) {
            const Expr &x_ = v[0], &mu_ = v[1], &r_ = v[2], &u_ = v[3], &gy_ = v[4], &m1_ = v[5], &m2_ = v[6],
                       &ux = v[7], &um = v[8], &a_ = v[9];
            Expr xhat = (x_ - mu_) * r_;
            Expr c = -r_ * (m2_ * u_ + ux * gy_);
            Expr c_mean = -r_ * (m2_ * um + ux * m1_);
            Expr c_xhat_mean = -2.0 * r_ * m2_ * ux;
            return r_ * (c - c_mean - xhat * c_xhat_mean) - r_ * r_ * a_ * xhat;
          },
          {x, mu, r, u, gy, m1, m2, u_xhat, u_mean, a});
    }
    return grads;
  });
}

}  // namespace mttt
