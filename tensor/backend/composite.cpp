#include "tensor/backend/composite.hpp"

#include <limits>

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/reduce.hpp"

namespace mttt {

namespace composite {

namespace {
Tensor row_mean(const Tensor& t) { return mean(t, {-1}, true); }
// (var + eps)^(-1/2) over the last axis given its mean, in two passes (no cancellation).
Tensor rstd(const Tensor& x, const Tensor& mu, double eps) {
  return rsqrt(row_mean(fuse([](Expr x_, Expr mu_) { return square(x_ - mu_); }, x, mu)) + eps);
}
}  // namespace

Tensor softmax(const Tensor& x, int axis, bool log) {
  // A row of -inf (or with +inf) has no finite maximum; subtracting it would give NaN.
  const double inf = std::numeric_limits<double>::infinity();
  Tensor shift = fuse([inf](Expr m) { return where(lt(abs(m), m.constant(inf)), m, m.constant(0)); },
                      max(x, {axis}, true));
  Tensor shifted = x - shift;
  if (log) return shifted - mttt::log(sum(exp(shifted), {axis}, true));
  Tensor e = exp(shifted);
  return e / sum(e, {axis}, true);
}

Tensor normalise(const Tensor& x, double eps) {
  Tensor mu = row_mean(x);
  return fuse([](Expr x_, Expr mu_, Expr r_) { return (x_ - mu_) * r_; }, x, mu, rstd(x, mu, eps));
}

Tensor layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps) {
  Tensor y = normalise(x, eps);
  if (scale.defined()) y = y * scale;
  if (bias.defined()) y = y + bias;
  return y;
}

Tensor layer_norm_backward(const Tensor& x, const Tensor& gy, double eps) {
  Tensor mu = row_mean(x), r = rstd(x, mu, eps);
  Tensor m1 = row_mean(gy);
  Tensor m2 = row_mean(fuse([](Expr g_, Expr x_, Expr mu_, Expr r_) { return g_ * (x_ - mu_) * r_; }, gy, x, mu, r));
  return fuse_all(
      [](const std::vector<Expr>& v) {
        const Expr &x_ = v[0], &mu_ = v[1], &r_ = v[2], &gy_ = v[3], &m1_ = v[4], &m2_ = v[5];
        return r_ * (gy_ - m1_ - (x_ - mu_) * r_ * m2_);
      },
      {x, mu, r, gy, m1, m2});
}

// out = r (gy - m1 - x-hat m2), m1 = mean(gy), m2 = mean(gy x-hat). For a cotangent u, x-bar =
// r (c - mean(c) - x-hat mean(c x-hat)) - r^2 a x-hat: the first term is c's way back through
// x-hat, with c = -r (m2 u + mean(u x-hat) gy) the cotangent reaching x-hat, and
// a = mean(u gy) - m1 mean(u) - m2 mean(u x-hat) that reaching r (dr/dx = -r^2 x-hat / D).
// c's two means follow from the row statistics, so x-bar is one pass after them.
Tensor layer_norm_backward_vjp_x(const Tensor& x, const Tensor& gy, const Tensor& u, double eps) {
  Tensor mu = row_mean(x), r = rstd(x, mu, eps);
  auto mean_times_xhat = [&](const Tensor& t) {
    return row_mean(fuse([](Expr t_, Expr x_, Expr mu_, Expr r_) { return t_ * (x_ - mu_) * r_; }, t, x, mu, r));
  };
  Tensor m1 = row_mean(gy), m2 = mean_times_xhat(gy), u_xhat = mean_times_xhat(u), u_mean = row_mean(u);
  Tensor a = row_mean(u * gy) - m1 * u_mean - m2 * u_xhat;
  return fuse_all(
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

}  // namespace composite

// Backend's defaults: the composite run without recording (the op records around the kernel),
// on this backend's other kernels (the inputs are this backend's tensors), copied into `out`.

void Backend::softmax(const Tensor& x, int axis, bool log, const Tensor& out) {
  NoGrad off;
  copy(composite::softmax(x, axis, log), out);
}

void Backend::layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps, const Tensor& out) {
  NoGrad off;
  copy(composite::layer_norm(x, scale, bias, eps), out);
}

void Backend::layer_norm_backward(const Tensor& x, const Tensor& gy, double eps, const Tensor& out) {
  NoGrad off;
  copy(composite::layer_norm_backward(x, gy, eps), out);
}

void Backend::layer_norm_backward_vjp(const Tensor& x, const Tensor& gy, const Tensor& u, double eps,
                                      const Tensor& x_bar, const Tensor& gy_bar) {
  NoGrad off;
  if (gy_bar.defined()) layer_norm_backward(x, u, eps, gy_bar);  // this backend's kernel, or the default
  if (x_bar.defined()) copy(composite::layer_norm_backward_vjp_x(x, gy, u, eps), x_bar);
}

}  // namespace mttt
