#include "nn/data/random_stream.hpp"

#include <cmath>

namespace mttt::nn::data {

PhiloxStream derive_stream(std::uint64_t seed, Purpose purpose, std::uint64_t epoch, std::uint64_t index) {
  // One Philox block of (epoch, purpose) under the seed gives the key; the index selects a
  // disjoint range of 2^32 counters.
  constexpr std::uint32_t kTag = 0x6d747474;  // "mttt"
  auto w = philox4x32({static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(epoch >> 32),
                       static_cast<std::uint32_t>(purpose), kTag},
                      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)});
  return {(std::uint64_t{w[1]} << 32) | w[0], index << 32};
}

std::uint32_t RandomStream::below(std::uint32_t n) {
  auto k = static_cast<std::uint32_t>(uniform() * n);
  return k < n ? k : n - 1;
}

// Marsaglia and Tsang (2000); for shape < 1, Gamma(shape) = Gamma(shape + 1) * U^(1 / shape).
double RandomStream::log_gamma_draw(double shape) {
  double boost = 0;
  if (shape < 1) {
    boost = std::log(1.0 - uniform()) / shape;
    shape += 1;
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = normal(), v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    double u = 1.0 - uniform();
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return std::log(d * v) + boost;
  }
}

double RandomStream::beta(double a, double b) {
  double la = log_gamma_draw(a), lb = log_gamma_draw(b);
  return 1.0 / (1.0 + std::exp(lb - la));
}

}  // namespace mttt::nn::data
