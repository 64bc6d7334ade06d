// `mttt demo`: what the engine does, in four short acts.
//  1. Derivatives of any order: d^n/dx^n tanh(x) at a point, by repeated grad with
//     create_graph, next to the closed forms.
//  2. Gradient checks of a few ops against finite differences, first and second order.
//  3. A bilevel problem, the shape of MTTT's training: an inner loop of gradient steps on each
//     task's own data, an outer loop that learns the inner loop's starting point and step size
//     by differentiating through it.
//  4. Fusion: gelu(a * b + c) on 16M floats as one pass vs op by op.
// The per-op profile of the whole run closes it.
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "tensor/tensor.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

namespace {

void derivatives_of_tanh() {
  fmt::print("1. Derivatives of tanh at x = 0.5 by repeated grad (create_graph)\n");
  const double x0 = 0.5, t = std::tanh(x0), s = 1 - t * t;  // s = sech^2
  const double closed[] = {t, s, -2 * t * s, -2 * s * s + 4 * t * t * s, 8 * t * s * s - 8 * t * t * t * s + 8 * t * s * s};
  Tensor x = full({}, x0, {DType::float64}).requires_grad_();
  Tensor d = tanh(x);
  fmt::print("   {:>5} {:>22} {:>22} {:>10}\n", "order", "autodiff", "closed form", "error");
  for (int n = 0; n <= 4; ++n) {
    fmt::print("   {:>5} {:>22.15f} {:>22.15f} {:>10.1e}\n", n, d.item(), closed[n], std::abs(d.item() - closed[n]));
    if (n < 4) d = grad(d, x, {.create_graph = true});
  }
}

void gradient_checks() {
  fmt::print("\n2. Gradient checks against central differences (float64)\n");
  Generator g(7);
  Tensor a = uniform({3, 4}, -1, 1, {DType::float64}, &g), b = uniform({4, 2}, -1, 1, {DType::float64}, &g);
  Tensor s = uniform({4}, 0.5, 1.5, {DType::float64}, &g);
  struct Case {
    const char* name;
    TensorFunction f;
    std::vector<Tensor> inputs;
  };
  std::vector<Case> cases = {
      {"matmul", [](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); }, {a, b}},
      {"softmax", [](const std::vector<Tensor>& v) { return softmax(v[0], -1); }, {a}},
      {"layer_norm", [](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], Tensor()); }, {a, s}},
      {"gelu(a*s+1) fused", [](const std::vector<Tensor>& v) {
         return fuse([](Expr x, Expr y) { return gelu(x * y + 1.0); }, v[0], v[1]);
       }, {a, s}},
  };
  fmt::print("   {:<20} {:>14} {:>14}\n", "op", "order 1 error", "order 2 error");
  for (const auto& c : cases) {
    auto r1 = gradcheck(c.f, c.inputs, {.order = 1});
    auto r2 = gradcheck(c.f, c.inputs, {.order = 2});
    fmt::print("   {:<20} {:>14.1e} {:>14.1e} {}\n", c.name, r1.max_abs_error, r2.max_abs_error,
               r1.ok && r2.ok ? "ok" : "FAILED " + r1.message + r2.message);
  }
}

// Tasks: y = x * slope_task with slopes around 2. The model is w; the inner loop takes
// `steps` gradient steps on the task's support set from w0 with step size eta; the outer loss
// is the adapted model's error on the task's query set. Outer parameters: w0 and eta.
void bilevel() {
  fmt::print("\n3. A bilevel problem: learn the inner loop's start w0 and step size eta through it\n");
  Generator g(11);
  Tensor w0 = zeros({}, {DType::float64}).requires_grad_();
  Tensor log_eta = full({}, std::log(0.05), {DType::float64}).requires_grad_();
  const int steps = 3, tasks = 16;
  fmt::print("   {:>5} {:>12} {:>9} {:>9} {:>36}\n", "outer", "query loss", "w0", "eta", "inner losses (mean over tasks)");
  for (int outer = 0; outer <= 60; ++outer) {
    Tensor slopes = normal({tasks, 1}, 2.0, 0.5, {DType::float64}, &g);
    Tensor xs = uniform({tasks, 8}, -1, 1, {DType::float64}, &g), xq = uniform({tasks, 8}, -1, 1, {DType::float64}, &g);
    Tensor ys = xs * slopes, yq = xq * slopes;
    Tensor eta = exp(log_eta);
    Tensor w = expand(w0, {tasks, 1});
    std::vector<double> inner_losses;
    for (int t = 0; t < steps; ++t) {
      Tensor inner = sum(mean(square(xs * w - ys), {1}));  // each task's own loss, summed
      inner_losses.push_back(inner.item() / tasks);
      Tensor gw = grad(inner, w, {.create_graph = true});    // second order: the outer loop sees this step
      w = w - eta * gw;
    }
    inner_losses.push_back(sum(mean(square(xs * w - ys), {1})).item() / tasks);
    Tensor query = mean(square(xq * w - yq));
    auto gs = grad({query}, {w0, log_eta});
    if (outer % 10 == 0)
      fmt::print("   {:>5} {:>12.5f} {:>9.4f} {:>9.4f}   {:.3f}\n", outer, query.item(), w0.item(), eta.item(),
                 fmt::join(inner_losses, " -> "));
    NoGrad no_grad;  // plain gradient descent on the outer parameters
    w0 = (w0 - gs[0] * 0.5).detach().requires_grad_();
    log_eta = (log_eta - gs[1] * 0.5).detach().requires_grad_();
  }
}

double seconds_of(const std::function<void()>& f) {
  f();
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

void fusion() {
  fmt::print("\n4. Fusion: gelu(a * b + c) on 16M float32 values, forward and backward\n");
  Generator g(3);
  const std::int64_t n = 1 << 24;
  Tensor a = uniform({n}, -1, 1, {}, &g).requires_grad_(), b = uniform({n}, -1, 1, {}, &g).requires_grad_();
  Tensor c = uniform({n}, -1, 1, {}, &g).requires_grad_();
  auto run = [&] {
    Tensor y = fuse([](Expr x, Expr y_, Expr z) { return gelu(x * y_ + z); }, a, b, c);
    grad({sum(y)}, {a, b, c});
  };
  double fused = seconds_of(run);
  double unfused;
  {
    FusionScope off(false);
    unfused = seconds_of(run);
  }
  fmt::print("   fused {:.1f} ms, op by op {:.1f} ms: {:.2f}x\n", fused * 1e3, unfused * 1e3, unfused / fused);
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto* demo = app.add_subcommand("demo", "a tour of the tensor library and the autodiff engine");
  demo->callback([] {
    autodiff::set_profiler_enabled(true);
    derivatives_of_tanh();
    gradient_checks();
    bilevel();
    fusion();
    fmt::print("\nTime per op over the whole demo (self time; backward = inside backward rules):\n{}",
               autodiff::profiler_table());
  });
}

}  // namespace mttt::cli
