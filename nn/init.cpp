#include "nn/init.hpp"

#include <algorithm>
#include <cmath>

#include "tensor/tensor.hpp"

namespace mttt::nn::init {

Fans compute_fans(const Shape& shape, const FanAxes& axes) {
  const int rank = shape.size();
  check(rank >= 2, "variance_scaling", "shape {} has rank {}: fans need a kernel of rank >= 2", to_string(shape), rank);
  const int in = normalize_axis(axes.in_axis, rank, "variance_scaling");
  const int out = normalize_axis(axes.out_axis, rank, "variance_scaling");
  check(in != out, "variance_scaling", "in_axis and out_axis are both axis {} of {}", in, to_string(shape));
  double receptive = 1;
  for (int a = 0; a < rank; ++a) {
    bool batch = false;
    for (auto b : axes.batch_axes) batch = batch || normalize_axis(b, rank, "variance_scaling") == a;
    check(!batch || (a != in && a != out), "variance_scaling", "axis {} of {} is both a batch axis and a fan axis", a,
          to_string(shape));
    if (!batch && a != in && a != out) receptive *= static_cast<double>(shape[a]);
  }
  return {static_cast<double>(shape[in]) * receptive, static_cast<double>(shape[out]) * receptive};
}

double inverse_normal_cdf(double p) {
  check(p > 0 && p < 1, "inverse_normal_cdf", "p = {} is outside (0, 1)", p);
  // Acklam's rational approximation (relative error 1e-9), then one Halley step on erfc.
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double low = 0.02425;
  double x;
  if (p < low) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

Tensor truncated_normal(const Shape& shape, double low, double high, DType dtype, Generator& generator) {
  check(low < high, "truncated_normal", "bounds [{}, {}] are empty", low, high);
  auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  const double p_low = cdf(low), p_high = cdf(high);
  std::vector<double> u = mttt::uniform(shape, 0, 1, {DType::float64}, &generator).to_vector<double>();
  for (double& v : u) {
    double p = p_low + v * (p_high - p_low);
    v = p <= 0 || p >= 1 ? (p <= 0 ? low : high) : std::clamp(inverse_normal_cdf(p), low, high);
  }
  return from_vector(u, shape, {dtype});
}

Initializer variance_scaling(double scale, FanMode mode, Distribution distribution, FanAxes axes) {
  return [=](const Shape& shape, DType dtype, Generator& gen) {
    Fans fans = compute_fans(shape, axes);
    const double fan = mode == FanMode::fan_in    ? fans.in
                       : mode == FanMode::fan_out ? fans.out
                                                  : (fans.in + fans.out) / 2;
    const double variance = scale / fan;
    switch (distribution) {
      case Distribution::uniform: {
        const double bound = std::sqrt(3 * variance);
        return mttt::uniform(shape, -bound, bound, {dtype}, &gen);
      }
      case Distribution::normal:
        return mttt::normal(shape, 0, std::sqrt(variance), {dtype}, &gen);
      default: {
        const double stddev = std::sqrt(variance) / 0.87962566103423978;
        Tensor unit = truncated_normal(shape, -2, 2, DType::float64, gen);
        return cast(unit * stddev, dtype);
      }
    }
  };
}

Initializer xavier_uniform(FanAxes axes) { return variance_scaling(1, FanMode::fan_avg, Distribution::uniform, axes); }

Initializer lecun_normal(FanAxes axes) {
  return variance_scaling(1, FanMode::fan_in, Distribution::truncated_normal, axes);
}

Initializer normal(double stddev) {
  return [=](const Shape& shape, DType dtype, Generator& gen) { return mttt::normal(shape, 0, stddev, {dtype}, &gen); };
}

Initializer uniform(double low, double high) {
  return
      [=](const Shape& shape, DType dtype, Generator& gen) { return mttt::uniform(shape, low, high, {dtype}, &gen); };
}

Initializer constant(double value) {
  return [=](const Shape& shape, DType dtype, Generator&) { return mttt::full(shape, value, {dtype}); };
}

Initializer zeros() { return constant(0); }
Initializer ones() { return constant(1); }

}  // namespace mttt::nn::init
