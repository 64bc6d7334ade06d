// Initialisers: fans, bounds, standard deviations, truncation, reproducibility.
#include <catch2/catch.hpp>
#include <cmath>

#include "nn/init.hpp"
#include "tests/nn/layers/helpers.hpp"

using namespace mttt;
using namespace mttt::nn;
using test::mean_of;
using test::std_of;

namespace {
double max_of(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}
}  // namespace

TEST_CASE("fans: in and out axes, batch axes left out, other axes as receptive field") {
  auto f = init::compute_fans({3, 4});
  CHECK(f.in == 3);
  CHECK(f.out == 4);
  // A per-head kernel (H, D, d) with the head axis as a batch axis: fans D and d.
  f = init::compute_fans({6, 384, 64}, {.batch_axes = {0}});
  CHECK(f.in == 384);
  CHECK(f.out == 64);
  // A patch kernel (p, p, C, D): the receptive field p p multiplies both.
  f = init::compute_fans({16, 16, 3, 384});
  CHECK(f.in == 16 * 16 * 3);
  CHECK(f.out == 16 * 16 * 384);
  REQUIRE_THROWS_WITH(init::compute_fans({5}), Catch::Contains("rank >= 2"));
  REQUIRE_THROWS_WITH(init::compute_fans({2, 3, 4}, {.batch_axes = {1}}),
                      Catch::Contains("both a batch axis and a fan axis"));
}

TEST_CASE("xavier_uniform: within +-sqrt(6 / (fan_in + fan_out)), uniform spread") {
  Generator gen(7);
  Tensor w = init::xavier_uniform()({200, 300}, DType::float32, gen);
  CHECK(w.dtype() == DType::float32);
  const double bound = std::sqrt(6.0 / 500.0);
  auto v = w.to_vector<double>();
  CHECK(max_of(v) <= bound);
  CHECK(max_of(v) > 0.99 * bound);
  CHECK(std_of(v) == Approx(bound / std::sqrt(3.0)).epsilon(0.01));
  CHECK(std::abs(mean_of(v)) < 0.01 * bound);
  // Per head: fans d and 4d, as the TTT layer's inner MLP.
  Tensor h = init::xavier_uniform({.batch_axes = {0}})({3, 64, 256}, DType::float64, gen);
  CHECK(max_of(h.to_vector<double>()) <= std::sqrt(6.0 / (64 + 256)));
  CHECK(max_of(h.to_vector<double>()) > 0.99 * std::sqrt(6.0 / (64 + 256)));
}

TEST_CASE("lecun_normal: truncated at 2 std, variance 1 / fan_in") {
  Generator gen(8);
  Tensor w = init::lecun_normal()({400, 500}, DType::float64, gen);
  auto v = w.to_vector<double>();
  const double target = std::sqrt(1.0 / 400.0), raw = target / 0.87962566103423978;
  CHECK(std_of(v) == Approx(target).epsilon(0.01));
  CHECK(max_of(v) <= 2 * raw + 1e-12);
  CHECK(max_of(v) > 0.99 * 2 * raw);
  CHECK(std::abs(mean_of(v)) < 0.01 * target);
}

TEST_CASE("variance_scaling modes and distributions") {
  Generator gen(9);
  using init::Distribution;
  using init::FanMode;
  auto v = init::variance_scaling(2.0, FanMode::fan_out, Distribution::normal)({300, 100}, DType::float64, gen)
               .to_vector<double>();
  CHECK(std_of(v) == Approx(std::sqrt(2.0 / 100)).epsilon(0.02));
  v = init::variance_scaling(1.0, FanMode::fan_in, Distribution::uniform)({300, 100}, DType::float64, gen)
          .to_vector<double>();
  CHECK(max_of(v) <= std::sqrt(3.0 / 300));
  CHECK(std_of(v) == Approx(std::sqrt(1.0 / 300)).epsilon(0.02));
  v = init::normal(1e-6)({1000}, DType::float64, gen).to_vector<double>();
  CHECK(std_of(v) == Approx(1e-6).epsilon(0.1));
  CHECK(max_of(init::zeros()({4, 4}, DType::float32, gen).to_vector<double>()) == 0);
  CHECK(init::ones()({4}, DType::float32, gen).to_vector<double>() == std::vector<double>(4, 1.0));
}

TEST_CASE("initialisers are reproducible from the seed") {
  Generator a(11), b(11), c(12);
  auto xa = init::lecun_normal()({8, 8}, DType::float32, a).to_vector<double>();
  auto xb = init::lecun_normal()({8, 8}, DType::float32, b).to_vector<double>();
  auto xc = init::lecun_normal()({8, 8}, DType::float32, c).to_vector<double>();
  CHECK(xa == xb);
  CHECK(xa != xc);
  // Successive draws from one generator differ.
  CHECK(init::xavier_uniform()({8, 8}, DType::float32, a).to_vector<double>() !=
        init::xavier_uniform()({8, 8}, DType::float32, a).to_vector<double>());
}

TEST_CASE("inverse normal CDF and truncated normal on the host") {
  CHECK(init::inverse_normal_cdf(0.5) == Approx(0.0).margin(1e-15));
  CHECK(init::inverse_normal_cdf(0.975) == Approx(1.959963984540054).epsilon(1e-14));
  CHECK(init::inverse_normal_cdf(0.0227501319481792) == Approx(-2.0).epsilon(1e-12));
  CHECK(init::inverse_normal_cdf(1e-10) == Approx(-6.361340902404056).epsilon(1e-12));
  REQUIRE_THROWS_WITH(init::inverse_normal_cdf(1.0), Catch::Contains("outside (0, 1)"));
  Generator gen(13);
  auto v = init::truncated_normal({20000}, -2, 2, DType::float64, gen).to_vector<double>();
  CHECK(max_of(v) <= 2.0);
  CHECK(std_of(v) == Approx(0.87962566103423978).epsilon(0.02));
  auto one_sided = init::truncated_normal({20000}, 0, 1, DType::float64, gen).to_vector<double>();
  double lo = 1, hi = 0;
  for (double x : one_sided) lo = std::min(lo, x), hi = std::max(hi, x);
  CHECK(lo >= 0);
  CHECK(hi <= 1);
}
