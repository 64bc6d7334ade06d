// Layer normalisation over the last axis, one row at a time: the normalised, scaled and shifted
// output; its backward, x-bar = r (gy - mean(gy) - x-hat mean(gy x-hat)); and that backward's vjp;
// each one pass over each row after its statistics.
#include <cmath>

#include <Eigen/Core>

#include "tensor/backend/cpu/cpu_backend.hpp"
#include "tensor/backend/cpu/strided.hpp"
#include "tensor/runtime.hpp"

namespace mttt {

namespace {

Tensor dense(CpuBackend& backend, const Tensor& t) {
  if (!t.defined() || t.is_contiguous()) return t;
  Tensor c = Tensor::empty(t.shape(), t.dtype(), t.device());
  backend.copy(t, c);
  return c;
}

// One row's x-hat = (v - mean) r into `xhat`, with mean and biased variance in two passes over the
// row (no cancellation); returns r = (var + eps)^(-1/2).
template <class T, class Row, class Out> T normalise_row(const Row& v, double eps, Out&& xhat) {
  const T mu = v.mean();
  const T rstd = T(1) / std::sqrt((v - mu).square().mean() + T(eps));
  xhat = (v - mu) * rstd;
  return rstd;
}

template <class T>
void run(CpuBackend& backend, const Tensor& x_in, const Tensor& scale_in, const Tensor& bias_in, double eps,
         const Tensor& out) {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  Tensor x = dense(backend, x_in), scale = dense(backend, scale_in), bias = dense(backend, bias_in);
  const std::int64_t d = x.size(-1);
  const std::int64_t rows = d ? x.numel() / d : 0;
  const T* xd = x.data<T>();
  T* od = out.data<T>();
  const T* sd = scale.defined() ? scale.data<T>() : nullptr;
  const T* bd = bias.defined() ? bias.data<T>() : nullptr;
#pragma omp parallel for if (x.numel() >= kParallelThreshold) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    Eigen::Map<const Array> v(xd + r * d, d);
    Eigen::Map<Array> o(od + r * d, d);
    normalise_row<T>(v, eps, o);
    if (sd) o *= Eigen::Map<const Array>(sd, d);
    if (bd) o += Eigen::Map<const Array>(bd, d);
  }
}

template <class T>
void run_backward(CpuBackend& backend, const Tensor& x_in, const Tensor& gy_in, double eps, const Tensor& out) {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  Tensor x = dense(backend, x_in), gy = dense(backend, gy_in);
  const std::int64_t d = x.size(-1);
  const std::int64_t rows = d ? x.numel() / d : 0;
  const T* xd = x.data<T>();
  const T* gd = gy.data<T>();
  T* od = out.data<T>();
#pragma omp parallel for if (x.numel() >= kParallelThreshold) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    Eigen::Map<const Array> v(xd + r * d, d), g(gd + r * d, d);
    Eigen::Map<Array> o(od + r * d, d);
    // x-hat is written into the output first and then overwritten in place: no row buffer.
    const T rstd = normalise_row<T>(v, eps, o);
    const T m1 = g.mean();
    const T m2 = (g * o).mean();
    o = rstd * (g - m1 - o * m2);
  }
}

template <class T>
void run_backward_vjp(CpuBackend& backend, const Tensor& x_in, const Tensor& gy_in, const Tensor& u_in, double eps,
                      const Tensor& x_bar, const Tensor& gy_bar) {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  Tensor x = dense(backend, x_in), gy = dense(backend, gy_in), u = dense(backend, u_in);
  const std::int64_t d = x.size(-1);
  const std::int64_t rows = d ? x.numel() / d : 0;
  const T* xd = x.data<T>();
  const T* gd = gy.data<T>();
  const T* ud = u.data<T>();
  T* xo = x_bar.defined() ? x_bar.data<T>() : nullptr;
  T* go = gy_bar.defined() ? gy_bar.data<T>() : nullptr;
#pragma omp parallel if (x.numel() >= kParallelThreshold)
  {
    Array xhat(d);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
      Eigen::Map<const Array> v(xd + r * d, d), g(gd + r * d, d), w(ud + r * d, d);
      const T rstd = normalise_row<T>(v, eps, xhat);
      const T u_mean = w.mean(), u_xhat = (w * xhat).mean();
      if (go) Eigen::Map<Array>(go + r * d, d) = rstd * (w - u_mean - xhat * u_xhat);
      if (!xo) continue;
      const T m1 = g.mean(), m2 = (g * xhat).mean();
      const T a = (w * g).mean() - m1 * u_mean - m2 * u_xhat;
      const T c_mean = -rstd * (m2 * u_mean + u_xhat * m1), c_xhat_mean = T(-2) * rstd * m2 * u_xhat;
      Eigen::Map<Array>(xo + r * d, d) =
          rstd * (-rstd * (m2 * w + u_xhat * g) - c_mean - xhat * c_xhat_mean) - rstd * rstd * a * xhat;
    }
  }
}

}  // namespace

void CpuBackend::layer_norm_backward_vjp(const Tensor& x, const Tensor& gy, const Tensor& u, double eps,
                                         const Tensor& x_bar, const Tensor& gy_bar) {
  counters_.launch();
  dispatch_floating(x.dtype(), "layer_norm_backward", [&](auto zero) {
    run_backward_vjp<decltype(zero)>(*this, x, gy, u, eps, x_bar, gy_bar);
  });
}

void CpuBackend::layer_norm_backward(const Tensor& x, const Tensor& gy, double eps, const Tensor& out) {
  counters_.launch();
  dispatch_floating(x.dtype(), "layer_norm_backward",
                    [&](auto zero) { run_backward<decltype(zero)>(*this, x, gy, eps, out); });
}

void CpuBackend::layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps, const Tensor& out) {
  counters_.launch();
  dispatch_floating(x.dtype(), "layer_norm", [&](auto zero) { run<decltype(zero)>(*this, x, scale, bias, eps, out); });
}

}  // namespace mttt
