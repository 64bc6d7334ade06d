// The Thrust backend's layer norm over the last axis, its input gradient and that gradient's vjp:
// a group of threads per row (groups.hpp: one thread on the host, a warp or a block on CUDA).
#pragma once

#include "tensor/backend/thrust/groups.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

// A row's mean and reciprocal standard deviation (biased variance), in two passes (no
// cancellation), the row shared by the group's lanes (groups.hpp).
template <class T> struct RowMoments {
  T mean, rstd;
};
template <class T, class G>
MTTT_HD RowMoments<T> row_moments(const G& g, const T* in, Index length, Index stride, T eps) {
  T mean(0);
  for (Index j = g.lane(); j < length; j += g.size()) mean += in[j * stride];
  mean = g.reduce(mean, SumOf<T>{}) / T(length);
  T var(0);
  for (Index j = g.lane(); j < length; j += g.size()) {
    const T c = in[j * stride] - mean;
    var += c * c;
  }
  var = g.reduce(var, SumOf<T>{}) / T(length);
  return {mean, T(1) / std::sqrt(var + eps)};
}

template <class T> struct LayerNormBody {
  const T* x;
  const T* scale;  // may be null
  const T* bias;   // may be null
  T* out;
  Layout rows;
  Index length, stride, scale_stride, bias_stride;
  T eps;

  template <class G> MTTT_HD void operator()(const G& g, Index row) const {
    const T* in = x + rows.offset(row);
    T* o = out + row * length;
    const RowMoments<T> m = row_moments(g, in, length, stride, eps);
    for (Index j = g.lane(); j < length; j += g.size()) {
      T v = (in[j * stride] - m.mean) * m.rstd;
      if (scale) v *= scale[j * scale_stride];
      if (bias) v += bias[j * bias_stride];
      o[j] = v;
    }
  }
};

// layer_norm's input gradient without scale and bias: out = r (gy - mean(gy) - x-hat mean(gy x-hat)).
template <class T> struct LayerNormBackwardBody {
  const T* x;
  const T* gy;
  T* out;
  Layout x_rows, gy_rows;
  Index length, x_stride, gy_stride;
  T eps;

  template <class G> MTTT_HD void operator()(const G& g, Index row) const {
    const T* in = x + x_rows.offset(row);
    const T* gr = gy + gy_rows.offset(row);
    T* o = out + row * length;
    const RowMoments<T> m = row_moments(g, in, length, x_stride, eps);
    const T mean = m.mean, r = m.rstd;
    T m1(0), m2(0);
    for (Index j = g.lane(); j < length; j += g.size()) {
      const T gj = gr[j * gy_stride];
      m1 += gj;
      m2 += gj * (in[j * x_stride] - mean) * r;
    }
    m1 = g.reduce(m1, SumOf<T>{}) / T(length);
    m2 = g.reduce(m2, SumOf<T>{}) / T(length);
    for (Index j = g.lane(); j < length; j += g.size())
      o[j] = r * (gr[j * gy_stride] - m1 - (in[j * x_stride] - mean) * r * m2);
  }
};

// layer_norm_backward's vjp for a cotangent u (the formulas of Backend::layer_norm_backward_vjp).
template <class T> struct LayerNormBackwardVjpBody {
  const T* x;
  const T* gy;
  const T* u;
  T* x_bar;   // may be null
  T* gy_bar;  // may be null
  Layout x_rows, gy_rows, u_rows;
  Index length, x_stride, gy_stride, u_stride;
  T eps;

  template <class G> MTTT_HD void operator()(const G& g, Index row) const {
    const T* in = x + x_rows.offset(row);
    const T* gr = gy + gy_rows.offset(row);
    const T* w = u + u_rows.offset(row);
    const RowMoments<T> m = row_moments(g, in, length, x_stride, eps);
    const T mean = m.mean, r = m.rstd;
    T m1(0), m2(0), u_mean(0), u_xhat(0), u_gy(0);
    for (Index j = g.lane(); j < length; j += g.size()) {
      const T xh = (in[j * x_stride] - mean) * r, gj = gr[j * gy_stride], wj = w[j * u_stride];
      m1 += gj;
      m2 += gj * xh;
      u_mean += wj;
      u_xhat += wj * xh;
      u_gy += wj * gj;
    }
    const T n = T(length);
    m1 = g.reduce(m1, SumOf<T>{}) / n;
    m2 = g.reduce(m2, SumOf<T>{}) / n;
    u_mean = g.reduce(u_mean, SumOf<T>{}) / n;
    u_xhat = g.reduce(u_xhat, SumOf<T>{}) / n;
    u_gy = g.reduce(u_gy, SumOf<T>{}) / n;
    const T a = u_gy - m1 * u_mean - m2 * u_xhat;
    const T c_mean = -r * (m2 * u_mean + u_xhat * m1), c_xhat_mean = T(-2) * r * m2 * u_xhat;
    for (Index j = g.lane(); j < length; j += g.size()) {
      const T xh = (in[j * x_stride] - mean) * r, gj = gr[j * gy_stride], wj = w[j * u_stride];
      if (gy_bar) gy_bar[row * length + j] = r * (wj - u_mean - xh * u_xhat);
      if (x_bar) {
        const T c = -r * (m2 * wj + u_xhat * gj);
        x_bar[row * length + j] = r * (c - c_mean - xh * c_xhat_mean) - r * r * a * xh;
      }
    }
  }
};

}  // namespace thrust_backend

using namespace thrust_backend;

void ThrustBackend::layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps, const Tensor& out) {
  const int last = x.rank() - 1;
  const AxisSplit sx = split_axis(x.shape(), x.strides(), last);
  dispatch_floating(x.dtype(), "layer_norm", [&](auto zero) {
    using T = decltype(zero);
    LayerNormBody<T> body{typed<T>(x),
                              scale.defined() ? typed<T>(scale) : nullptr,
                              bias.defined() ? typed<T>(bias) : nullptr,
                              typed<T>(out),
                              sx.rest,
                              sx.axis_size,
                              sx.axis_stride,
                              scale.defined() ? scale.strides()[0] : 0,
                              bias.defined() ? bias.strides()[0] : 0,
                              static_cast<T>(eps)};
    if (sx.axis_size > 0) for_each_group(numel(x.shape()) / sx.axis_size, sx.axis_size, body);
  });
}

void ThrustBackend::layer_norm_backward(const Tensor& x, const Tensor& gy, double eps, const Tensor& out) {
  const int last = x.rank() - 1;
  const AxisSplit sx = split_axis(x.shape(), x.strides(), last), sg = split_axis(gy.shape(), gy.strides(), last);
  dispatch_floating(x.dtype(), "layer_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    LayerNormBackwardBody<T> body{typed<T>(x),     typed<T>(gy),   typed<T>(out),   sx.rest,
                                      sg.rest,         sx.axis_size,   sx.axis_stride,  sg.axis_stride,
                                      static_cast<T>(eps)};
    if (sx.axis_size > 0) for_each_group(numel(x.shape()) / sx.axis_size, sx.axis_size, body);
  });
}

void ThrustBackend::layer_norm_backward_vjp(const Tensor& x, const Tensor& gy, const Tensor& u, double eps,
                                            const Tensor& x_bar, const Tensor& gy_bar) {
  const int last = x.rank() - 1;
  const AxisSplit sx = split_axis(x.shape(), x.strides(), last), sg = split_axis(gy.shape(), gy.strides(), last),
                  su = split_axis(u.shape(), u.strides(), last);
  dispatch_floating(x.dtype(), "layer_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    LayerNormBackwardVjpBody<T> body{typed<T>(x),
                                         typed<T>(gy),
                                         typed<T>(u),
                                         x_bar.defined() ? typed<T>(x_bar) : nullptr,
                                         gy_bar.defined() ? typed<T>(gy_bar) : nullptr,
                                         sx.rest,
                                         sg.rest,
                                         su.rest,
                                         sx.axis_size,
                                         sx.axis_stride,
                                         sg.axis_stride,
                                         su.axis_stride,
                                         static_cast<T>(eps)};
    if (sx.axis_size > 0) for_each_group(numel(x.shape()) / sx.axis_size, sx.axis_size, body);
  });
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
