// Optimisers and schedules against hand-written references.
#include <catch2/catch.hpp>

#include <cmath>

#include "nn/optim/optim_config.hpp"
#include "nn/train/train_config.hpp"
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
// The spec's chain: the big_vision preset of the config path.
std::unique_ptr<Optimizer> big_vision(NamedTensors params, std::int64_t total, std::int64_t warmup,
                                      std::vector<std::string> frozen = {}) {
  OptimConfig c;
  c.warmup_steps = warmup;
  c.apply_preset();
  return make_optimizer(c, std::move(params), std::move(frozen), total);
}
}  // namespace

TEST_CASE("Adam with the big_vision chain matches a reference step by step") {
  Tensor kernel = param({0.5, -0.25});
  Tensor bias = param({0.1});
  Tensor frozen = param({1.0, 2.0});
  auto opt = big_vision({{"fc.kernel", kernel}, {"fc.bias", bias}, {"inner.0.kernel", frozen}}, 100, 10, {"inner.*"});
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
    auto opt = big_vision({{"a.kernel", p}}, 50, 5);
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
      opt = big_vision({{"a.kernel", p}}, 50, 5);
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
  auto opt = big_vision({{"a.kernel", p}}, 50, 5);
  NamedTensors bad = {{"optimizer.step", full({}, 3, {DType::int64})},
                      {"optimizer.mu.a.kernel", zeros({2}, {DType::float64})}};
  REQUIRE_THROWS_WITH(opt->load_state(bad), Catch::Contains("optimizer.mu.a.kernel") && Catch::Contains("(2,)"));
}

namespace {

// Three updates of {fc.kernel, fc.bias} from fixed gradients, with the optimiser that the
// config's optim section (after `overrides`) makes over 20 steps: the parameters' values and
// the effective learning rate at every update.
std::vector<double> trajectory(const std::vector<std::string>& overrides) {
  TrainConfig c = parse_train_config(nlohmann::json::object(), overrides, "test");
  Tensor kernel = param({0.5, -0.25}), bias = param({0.1});
  auto opt = make_optimizer(c.optim, {{"fc.kernel", kernel}, {"fc.bias", bias}}, {}, 20);
  std::vector<double> out;
  for (int s = 0; s < 3; ++s) {
    out.push_back(opt->effective_lr());
    set_grad(kernel, {3e-3 * (s + 1), -4e-3});
    set_grad(bias, {1e-3});
    opt->step();
  }
  for (const Tensor& t : {kernel, bias})
    for (double v : t.to_vector<double>()) out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("every optim key reaches the optimiser: a non-default value changes the updates") {
  // (keys, the optimiser they are tried with): each against the same optimiser without them.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"optim.lr=0.01", "big_vision"},        {"optim.schedule=\"linear\"", "big_vision"},
      {"optim.schedule=\"constant\"", "big_vision"}, {"optim.warmup_steps=2", "big_vision"},
      {"optim.weight_decay=0.5", "big_vision"}, {"optim.clip_norm=0.001", "big_vision"},
      {"optim.weight_decay=0.5", "adamw"},
      {"optim.clip_norm=0.001", "adamw"},     {"optim.clip_norm=0.001", "adam"},
      {"optim.momentum=0.5", "sgd"},          {"optim.weight_decay=0.5", "sgd"},
      {"optim.clip_norm=0.001", "sgd"},       {"optim.lr=0.01", "sgd"},
  };
  for (const auto& [key, optimizer] : cases) {
    CAPTURE(key, optimizer);
    const std::string chosen = "optim.optimizer=\"" + optimizer + "\"";
    CHECK(trajectory({chosen, key}) != trajectory({chosen}));
  }
  // The optimisers differ from one another.
  CHECK(trajectory({"optim.optimizer=\"adam\""}) != trajectory({"optim.optimizer=\"big_vision\""}));
  CHECK(trajectory({"optim.optimizer=\"adamw\""}) != trajectory({"optim.optimizer=\"big_vision\""}));
  CHECK(trajectory({"optim.optimizer=\"sgd\""}) != trajectory({"optim.optimizer=\"adamw\""}));
  // label_smoothing is the loss's (nn/loss.hpp): it reaches the typed config.
  CHECK(parse_train_config(nlohmann::json::object(), {"optim.label_smoothing=0.1"}, "test").optim.label_smoothing == 0.1);
}

TEST_CASE("the big_vision preset honours optim.clip_norm: a reference step") {
  Tensor p = param({0.5, -0.25});
  OptimConfig c;
  c.clip_norm = 1e-9;  // well below the gradient's norm: the clipped gradient meets Adam's eps
  c.schedule = "constant";
  c.apply_preset();
  auto opt = make_optimizer(c, {{"a.kernel", p}}, {}, 10);
  set_grad(p, {3e-6, -4e-6});  // norm 5e-6
  opt->step();
  const double scale = 1e-9 / 5e-6;
  auto v = p.to_vector<double>();
  const double g[2] = {3e-6 * scale, -4e-6 * scale}, start[2] = {0.5, -0.25};
  for (int i = 0; i < 2; ++i) {  // first Adam step: m-hat = g, v-hat = g^2
    const double want = start[i] - (1e-3 * g[i] / (std::abs(g[i]) + 1e-8) + 1e-4 * start[i]);
    CHECK(v[i] == Approx(want).epsilon(1e-12));
  }
}

TEST_CASE("keys an optimiser does not use are refused, naming them") {
  REQUIRE_THROWS_WITH(parse_train_config(nlohmann::json::object(), {"optim.momentum=0.5"}, "run.json"),
                      Catch::Contains("run.json") && Catch::Contains("optim.momentum") &&
                          Catch::Contains("'sgd' only"));
  REQUIRE_THROWS_WITH(parse_train_config(nlohmann::json::object(), {"optim.optimizer=\"adam\"", "optim.weight_decay=0.0001"}, "run.json"),
                      Catch::Contains("optim.weight_decay") && Catch::Contains("no weight decay"));
  // Unset keys take the preset's value, and the record says so.
  TrainConfig sgd = parse_train_config(nlohmann::json::object(), {"optim.optimizer=\"sgd\""}, "run.json");
  CHECK(sgd.optim.momentum == 0.9);
  CHECK(sgd.json["optim"]["momentum"] == 0.9);
  CHECK(sgd.json["optim"]["weight_decay"] == 1e-4);
  TrainConfig adam = parse_train_config(nlohmann::json::object(), {"optim.optimizer=\"adam\""}, "run.json");
  CHECK(adam.optim.weight_decay == 0.0);
  CHECK(adam.json["optim"]["momentum"].is_null());
  // A checkpoint's config from before the presets still reads (mttt eval).
  nlohmann::json old = default_train_config();
  old["optim"]["optimizer"] = "adam";
  old["optim"]["momentum"] = 0.9;
  old["optim"]["weight_decay"] = 1e-4;
  CHECK_NOTHROW(parse_train_config(upgrade_checkpoint_config(old), {}, "checkpoint"));
}

// The step's scalars (lr(s), multiplier(s), the decay, Adam's bias corrections) are read from a
// tensor on the device instead of being constants of the fused update programs; in the
// parameters' dtype they round as the constants did, so the updates keep their bits. The
// reference is the constant-baking update, written out here.
TEST_CASE("updates reading the step's scalars from the device equal updates with them as constants, bit for bit") {
  for (DType dtype : {DType::float32, DType::float64}) {
    Generator gen(11);
    Tensor w = uniform({3, 5}, -1, 1, {dtype}, &gen).requires_grad_();
    Tensor b = uniform({5}, -1, 1, {dtype}, &gen).requires_grad_();
    Tensor ref_w = zeros_like(w.detach()), ref_b = zeros_like(b.detach());
    copy_(ref_w, w.detach());
    copy_(ref_b, b.detach());
    OptimizerOptions o;
    o.lr = warmup_linear_schedule(3e-3, 2, 10);
    o.multiplier = warmup_cosine_schedule(1.0, 3, 10);
    o.weight_decay = 0.05;
    o.decay_patterns = {"w"};
    o.clip_norm = 0.7;
    Adam adam({{"w", w}, {"b", b}}, o, 0.9, 0.99, 1e-7);
    Tensor mu_w = zeros_like(ref_w), nu_w = zeros_like(ref_w), mu_b = zeros_like(ref_b), nu_b = zeros_like(ref_b);
    for (int s = 0; s < 5; ++s) {
      Tensor gw = uniform({3, 5}, -2, 2, {dtype}, &gen), gb = uniform({5}, -2, 2, {dtype}, &gen);
      w.set_grad(gw);
      b.set_grad(gb);
      adam.step();
      NoGrad no_grad;
      Tensor squares = sum(cast(square(gw), DType::float64)) + sum(cast(square(gb), DType::float64));
      Tensor clip = cast(fuse([](Expr q) { return minimum(q.constant(1.0), 0.7 / sqrt(q)); }, squares), dtype);
      const double lr = o.lr(s), m = o.multiplier(s), t = s + 1.0;
      const double c1 = 1 - std::pow(0.9, t), c2 = 1 - std::pow(0.99, t);
      auto update = [&](Tensor& p, Tensor& mu, Tensor& nu, const Tensor& g, double wd) {
        Tensor gc = g * clip;
        mu = fuse([](Expr a, Expr g_) { return 0.9 * a + (1 - 0.9) * g_; }, mu, gc);
        nu = fuse([](Expr v, Expr g_) { return 0.99 * v + (1 - 0.99) * g_ * g_; }, nu, gc);
        Tensor d = fuse([c1, c2](Expr a, Expr v) { return (a / c1) / (sqrt(v / c2) + 1e-7); }, mu, nu);
        p = fuse([lr, wd, m](Expr p_, Expr d_) { return p_ - m * (lr * d_ + wd * p_); }, p, d);
      };
      update(ref_w, mu_w, nu_w, gw, 0.05 * lr);
      update(ref_b, mu_b, nu_b, gb, 0.0);
    }
    INFO(to_string(dtype));
    CHECK(w.to_vector<double>() == ref_w.to_vector<double>());
    CHECK(b.to_vector<double>() == ref_b.to_vector<double>());
  }
}
