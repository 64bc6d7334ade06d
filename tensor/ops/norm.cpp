#include "tensor/ops/norm.hpp"

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/backend/composite.hpp"
#include "tensor/ops/elementwise.hpp"
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
    if (needs[1]) grads[1] = sum_to(g * composite::normalise(x, eps), scale.shape());
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
  // out is linear in gy and the map gy -> out self-adjoint: for a cotangent u, gy-bar =
  // layer_norm_backward(x, u); x-bar is composite::layer_norm_backward_vjp_x (its derivation there).
  // When nothing records the rule's results (a first- or second-order sweep without create_graph,
  // the outer backward of training), both come from the backend's one-pass kernel; otherwise from
  // the composite's differentiable ops, the same math as the backend's default kernel.
  return record("layer_norm_backward", out, {x, gy}, [x, gy, eps](const Tensor& u, NeedsGrad needs) {
    Grads grads(2);
    if (!grad_enabled()) {
      if (needs[0]) grads[0] = Tensor::empty(x.shape(), x.dtype(), x.device());
      if (needs[1]) grads[1] = Tensor::empty(x.shape(), x.dtype(), x.device());
      backend_of(x).layer_norm_backward_vjp(x, gy, u, eps, grads[0], grads[1]);
      return grads;
    }
    if (needs[1]) grads[1] = layer_norm_backward(x, u, eps);
    if (needs[0]) grads[0] = composite::layer_norm_backward_vjp_x(x, gy, u, eps);
    return grads;
  });
}

}  // namespace mttt
