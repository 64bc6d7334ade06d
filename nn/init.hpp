// Initialisers, as Flax/JAX define them (jax.nn.initializers), each a function of the shape,
// the element type and a Generator, so that a seed reproduces a model exactly.
//
// Fans (variance_scaling): in_axis and out_axis pick the input and output sizes; batch axes
// are left out of both (a per-head kernel (H, D, d) with batch axis 0 has fans D and d); the
// other axes multiply both (the receptive field).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "tensor/core.hpp"
#include "tensor/random.hpp"

namespace mttt::nn::init {

using Initializer = std::function<Tensor(const Shape& shape, DType dtype, Generator& generator)>;

enum class FanMode { fan_in, fan_out, fan_avg };
enum class Distribution { uniform, normal, truncated_normal };

struct FanAxes {
  std::int64_t in_axis = -2, out_axis = -1;
  std::vector<std::int64_t> batch_axes;
};

struct Fans {
  double in = 0, out = 0;
};
Fans compute_fans(const Shape& shape, const FanAxes& axes = {});

// Variance scale / fan: uniform on +-sqrt(3 variance); normal with std sqrt(variance);
// truncated normal at +-2 std, rescaled by 1 / 0.87962566103423978 so the variance is kept.
Initializer variance_scaling(double scale, FanMode mode, Distribution distribution, FanAxes axes = {});
// U(+-sqrt(6 / (fan_in + fan_out))).
Initializer xavier_uniform(FanAxes axes = {});
// Truncated normal, variance 1 / fan_in (Flax's Dense default).
Initializer lecun_normal(FanAxes axes = {});
Initializer normal(double stddev);
Initializer uniform(double low, double high);
Initializer constant(double value);
Initializer zeros();
Initializer ones();

// Standard normal truncated to [low, high], drawn on the host by the inverse CDF from the
// generator's uniform variates (reproducible from the seed).
Tensor truncated_normal(const Shape& shape, double low, double high, DType dtype, Generator& generator);
// The inverse of the standard normal CDF, to about 1e-15 relative.
double inverse_normal_cdf(double p);

}  // namespace mttt::nn::init
