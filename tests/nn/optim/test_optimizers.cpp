// Optimisers and schedules against hand-written references.
#include <catch2/catch.hpp>

#include <cmath>

#include "nn/optim/optimizer.hpp"
#include "tensor/tensor.hpp"

using namespace mttt;
using namespace mttt::nn;

TEST_CASE("glob patterns select names as the spec writes them") {
  CHECK(glob_match("*.kernel", "blocks.3.mlp.fc1.kernel"));
  CHECK_FALSE(glob_match("*.kernel", "blocks.3.mlp.fc1.bias"));
  CHECK(glob_match("blocks.*.layer.inner.*", "blocks.11.layer.inner.0.kernel"));
  CHECK_FALSE(glob_match("blocks.*.layer.inner.*", "blocks.11.layer.phi.kernel"));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("head.*", "head.bias"));
  CHECK_FALSE(glob_match("head", "head.bias"));
}

TEST_CASE("the spec's schedule m(s): linear warm-up, then cosine to zero") {
  const std::int64_t total = 112603;
  Schedule m = warmup_cosine_schedule(1.0, 10000, total);
  CHECK(m(0) == 0.0);
  CHECK(m(5000) == Approx(0.5));
  CHECK(m(10000) == Approx(1.0));
  CHECK(m((10000 + total) / 2) == Approx(0.5).margin(1e-4));
  CHECK(m(total) == Approx(0.0).margin(1e-12));
  CHECK(make_schedule("linear", 2.0, 0, 10)(5) == Approx(1.0));
  REQUIRE_THROWS_WITH(make_schedule("step", 1, 0, 1), Catch::Contains("constant, cosine or linear"));
}

namespace {
Tensor param(std::vector<double> v) {
  auto n = static_cast<std::int64_t>(v.size());
  return from_vector(v, {n}, {DType::float64}).requires_grad_();
}
void set_grad(Tensor& p, std::vector<double> g) {
  auto n = static_cast<std::int64_t>(g.size());
  p.set_grad(from_vector(g, {n}, {DType::float64}));
}
}  // namespace

TEST_CASE("Adam with the big_vision chain matches a reference step by step") {
  Tensor kernel = param({0.5, -0.25});
  Tensor bias = param({0.1});
  Tensor frozen = param({1.0, 2.0});
  auto opt = big_vision_adam({{"fc.kernel", kernel}, {"fc.bias", bias}, {"inner.0.kernel", frozen}}, 100, 10,
                             {"inner.*"});
  // Reference, in plain arithmetic.
  std::vector<double> k = {0.5, -0.25}, b = {0.1}, mk(2, 0), vk(2, 0), mb(1, 0), vb(1, 0);
  std::vector<std::vector<double>> grads_k = {{3.0, -4.0}, {0.1, 0.2}, {-1.0, 0.5}};
  std::vector<std::vector<double>> grads_b = {{0.0}, {0.3}, {2.0}};
  for (int s = 0; s < 3; ++s) {
    set_grad(kernel, grads_k[s]);
    set_grad(bias, grads_b[s]);
    set_grad(frozen, {9.0, 9.0});
    opt->step();
    // clip by the global norm over trainable gradients (the frozen one is excluded)
    double norm = 0;
    for (double g : grads_k[s]) norm += g * g;
    for (double g : grads_b[s]) norm += g * g;
    norm = std::sqrt(norm);
    double clip = norm > 1.0 ? 1.0 / norm : 1.0;
    double m = std::min(1.0, s / 10.0) * 0.5 * (1 + std::cos(M_PI * std::clamp((s - 10.0) / 90.0, 0.0, 1.0)));
    auto adam = [&](std::vector<double>& p, std::vector<double>& mu, std::vector<double>& nu,
                    const std::vector<double>& g, bool decay) {
      for (std::size_t i = 0; i < p.size(); ++i) {
        double gi = g[i] * clip;
        mu[i] = 0.9 * mu[i] + 0.1 * gi;
        nu[i] = 0.999 * nu[i] + 0.001 * gi * gi;
        double mh = mu[i] / (1 - std::pow(0.9, s + 1)), vh = nu[i] / (1 - std::pow(0.999, s + 1));
        double u = 1e-3 * mh / (std::sqrt(vh) + 1e-8) + (decay ? 1e-4 * p[i] : 0.0);
        p[i] -= m * u;
      }
    };
    adam(k, mk, vk, grads_k[s], true);
    adam(b, mb, vb, grads_b[s], false);
    CHECK(opt->last_grad_norm() == Approx(norm));
  }
  auto kv = kernel.to_vector<double>();
  CHECK(kv[0] == Approx(k[0]).epsilon(1e-12));
  CHECK(kv[1] == Approx(k[1]).epsilon(1e-12));
  CHECK(bias.to_vector<double>()[0] == Approx(b[0]).epsilon(1e-12));
  CHECK(frozen.to_vector<double>() == std::vector<double>{1.0, 2.0});
  CHECK(opt->steps() == 3);
}

TEST_CASE("SGD with momentum and PyTorch-style AdamW decay") {
  Tensor p = param({1.0, -1.0});
  OptimizerOptions o;
  o.lr = constant_schedule(0.1);
  o.weight_decay = 0.5;
  Sgd sgd({{"w", p}}, o, 0.9);
  std::vector<double> ref = {1.0, -1.0}, buf = {0, 0};
  for (int s = 0; s < 3; ++s) {
    set_grad(p, {0.5, 0.25});
    sgd.step();
    for (int i = 0; i < 2; ++i) {
      buf[i] = 0.9 * buf[i] + (i == 0 ? 0.5 : 0.25);
      ref[i] -= 0.1 * buf[i] + 0.5 * 0.1 * ref[i];
    }
  }
  auto v = p.to_vector<double>();
  CHECK(v[0] == Approx(ref[0]).epsilon(1e-12));
  CHECK(v[1] == Approx(ref[1]).epsilon(1e-12));
}

TEST_CASE("optimizer state round-trips: a restored optimizer continues exactly") {
  auto run = [](int steps_before, int steps_after, bool restore) {
    Tensor p = param({0.3, 0.7, -0.2});
    auto opt = big_vision_adam({{"a.kernel", p}}, 50, 5);
    auto grad_at = [](int s) { return std::vector<double>{std::sin(s), std::cos(s), 0.5}; };
    for (int s = 0; s < steps_before; ++s) {
      set_grad(p, grad_at(s));
      opt->step();
    }
    if (restore) {
      auto state = opt->state();
      Tensor q = param({0, 0, 0});
      {
        NoGrad off;
        copy_(q, p);
      }
      p = q;
      opt = big_vision_adam({{"a.kernel", p}}, 50, 5);
      opt->load_state(state);
    }
    for (int s = steps_before; s < steps_before + steps_after; ++s) {
      set_grad(p, grad_at(s));
      opt->step();
    }
    return p.to_vector<double>();
  };
  CHECK(run(7, 4, true) == run(7, 4, false));
  Tensor p = param({1, 2, 3});
  auto opt = big_vision_adam({{"a.kernel", p}}, 50, 5);
  NamedTensors bad = {{"optimizer.step", full({}, 3, {DType::int64})},
                      {"optimizer.mu.a.kernel", zeros({2}, {DType::float64})}};
  REQUIRE_THROWS_WITH(opt->load_state(bad), Catch::Contains("optimizer.mu.a.kernel") && Catch::Contains("(2,)"));
}
