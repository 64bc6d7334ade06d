// The tape and the reverse sweep: grad vs backward, grad-mode scopes, higher order, graphs
// that are deep, retained, freed or leaked, anomaly mode and the profiler.
#include <catch2/catch.hpp>

#include <cmath>

#include "tensor/tensor.hpp"

using namespace mttt;

namespace {
Tensor vec(std::vector<double> v) {
  auto n = static_cast<std::int64_t>(v.size());
  return from_vector(v, {n}, {DType::float64});
}
double at(const Tensor& t, std::size_t i) { return t.to_vector<double>()[i]; }
}  // namespace

TEST_CASE("grad returns gradients without touching .grad; backward accumulates") {
  Tensor x = vec({1, 2, 3}).requires_grad_();
  Tensor y = sum(x * x);
  Tensor g = grad(y, x, {.retain_graph = true});
  CHECK(at(g, 2) == Approx(6));
  CHECK_FALSE(x.grad().defined());
  y.backward();
  CHECK(at(x.grad(), 1) == Approx(4));
  sum(x * 3.0).backward();
  CHECK(at(x.grad(), 1) == Approx(7));  // accumulated
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("gradients with respect to intermediate values and to several inputs") {
  Tensor a = vec({1, 2}).requires_grad_();
  Tensor b = vec({3, 4}).requires_grad_();
  Tensor h = a * b;
  Tensor y = sum(h * h);
  auto gs = grad({y}, {h, a, b});
  CHECK(at(gs[0], 0) == Approx(2 * 3));         // dy/dh = 2h
  CHECK(at(gs[1], 1) == Approx(2 * 8 * 4));     // dy/da = 2h b
  CHECK(at(gs[2], 0) == Approx(2 * 3 * 1));     // dy/db = 2h a
}

TEST_CASE("grad-mode scopes nest: no_grad records nothing, enable_grad inside records again") {
  Tensor x = vec({0.5}).requires_grad_();
  {
    NoGrad off;
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    {
      EnableGrad on;
      Tensor w = x.detach().requires_grad_();
      Tensor loss = sum(w * w * 3.0);
      Tensor gw = grad(loss, w);  // an inner step at evaluation, as a TTT layer takes
      CHECK(at(gw, 0) == Approx(3.0));
      CHECK(grad_enabled());
    }
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
}

TEST_CASE("higher order: second and third derivatives through create_graph") {
  Tensor x = vec({0.3, -0.7}).requires_grad_();
  Tensor y = sum(exp(x) * x);
  Tensor g1 = grad(y, x, {.create_graph = true});   // (1 + x) e^x
  Tensor g2 = grad(sum(g1), x, {.create_graph = true});  // (2 + x) e^x
  Tensor g3 = grad(sum(g2), x);                     // (3 + x) e^x
  for (std::size_t i = 0; i < 2; ++i) {
    double v = i == 0 ? 0.3 : -0.7;
    CHECK(at(g1, i) == Approx((1 + v) * std::exp(v)));
    CHECK(at(g2, i) == Approx((2 + v) * std::exp(v)));
    CHECK(at(g3, i) == Approx((3 + v) * std::exp(v)));
  }
  CHECK(g1.requires_grad());
  CHECK_FALSE(g3.requires_grad());
}

TEST_CASE("a nested learning problem: the outer gradient sees through an inner gradient step") {
  // Inner: w1 = w0 - eta * d/dw (w x - t)^2 ; outer loss (w1 x' - t')^2, differentiated in w0
  // and eta, compared with central differences.
  auto outer = [](double w0v, double etav, bool differentiate, double* dw0, double* deta) {
    Tensor w0 = vec({w0v}), eta = vec({etav});
    if (differentiate) w0.requires_grad_(), eta.requires_grad_();
    Tensor x = vec({1.5}), t = vec({0.4}), xq = vec({-0.8}), tq = vec({0.9});
    Tensor w = differentiate ? w0 : w0.detach().requires_grad_();
    Tensor inner = sum(square(w * x - t));
    Tensor gw = grad(inner, w, {.create_graph = differentiate});
    Tensor w1 = w - eta * gw;
    Tensor loss = sum(square(w1 * xq - tq));
    if (differentiate) {
      auto g = grad({loss}, {w0, eta});
      *dw0 = g[0].item();
      *deta = g[1].item();
    }
    return loss.item();
  };
  double dw0 = 0, deta = 0;
  outer(0.2, 0.1, true, &dw0, &deta);
  const double e = 1e-6;
  CHECK(dw0 == Approx((outer(0.2 + e, 0.1, false, nullptr, nullptr) - outer(0.2 - e, 0.1, false, nullptr, nullptr)) / (2 * e)).epsilon(1e-6));
  CHECK(deta == Approx((outer(0.2, 0.1 + e, false, nullptr, nullptr) - outer(0.2, 0.1 - e, false, nullptr, nullptr)) / (2 * e)).epsilon(1e-6));
}

TEST_CASE("deep graphs: a 200,000-node chain is swept and freed without recursion") {
  Tensor x = full({1}, 0.5, {DType::float64}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 200000; ++i) y = y * 1.0000001;
  Tensor g = grad(y, x);
  CHECK(g.item() == Approx(std::pow(1.0000001, 200000)));
  y = Tensor();  // tearing down 200,000 nodes must not overflow the stack
  SUCCEED();
}

TEST_CASE("10,000 training steps leave no node or byte behind") {
  Tensor w = uniform({8, 8}, -0.1, 0.1, {DType::float32}).requires_grad_();
  Tensor x = uniform({16, 8}, -1, 1, {DType::float32});
  auto step = [&] {
    Tensor h = tanh(matmul(x, w));
    Tensor inner = sum(h * h);
    Tensor gw = grad(inner, w, {.create_graph = true});  // second order, as MTTT's outer loop
    Tensor loss = mean(square(matmul(x, w - gw * 0.01)));
    loss.backward();
    NoGrad off;
    w.zero_grad();
  };
  for (int i = 0; i < 10; ++i) step();
  const auto nodes = Node::live_count();
  const auto bytes = memory_stats().bytes_in_use;
  for (int i = 0; i < 10000; ++i) step();
  CHECK(Node::live_count() == nodes);
  CHECK(memory_stats().bytes_in_use == bytes);
}

TEST_CASE("saved values are freed by the sweep unless the graph is retained") {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = sum(exp(x));
  y.backward();
  REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("retain_graph"));
  Tensor z = sum(exp(x));
  z.backward({}, true);
  CHECK_NOTHROW(z.backward());
}

TEST_CASE("clear errors for misuse of the engine") {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor unused = vec({3}).requires_grad_();
  Tensor c = vec({4, 5});
  REQUIRE_THROWS_WITH(grad(sum(x), c), Catch::Contains("does not require grad"));
  REQUIRE_THROWS_WITH(grad({sum(x)}, {unused}), Catch::Contains("not reached"));
  CHECK(grad({sum(x)}, {unused}, {}, {.allow_unused = true})[0].to_vector<double>() == std::vector<double>{0});
  REQUIRE_THROWS_WITH(grad({x * 2.0}, {x}), Catch::Contains("single-element"));
  REQUIRE_THROWS_WITH(grad({x * 2.0}, {x}, {vec({1, 1, 1})}), Catch::Contains("grad_outputs"));
  REQUIRE_THROWS_WITH(arange(3, {DType::int64}).requires_grad_(), Catch::Contains("floating"));
  REQUIRE_THROWS_WITH((x * 2.0).requires_grad_(), Catch::Contains("only leaves"));
}

TEST_CASE("anomaly mode names the first op that produced NaN or Inf") {
  Tensor x = vec({-1.0, 2.0}).requires_grad_();
  {
    DetectAnomaly anomaly;
    REQUIRE_THROWS_WITH(log(x), Catch::Contains("'log'"));
    Tensor z = vec({0.0, 4.0}).requires_grad_();
    Tensor y = sum(sqrt(z));  // forward finite, backward 1 / (2 sqrt 0) = inf
    REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("'sqrt'") && Catch::Contains("backward"));
  }
  CHECK_NOTHROW(log(x));  // off again: NaN is allowed through
}

TEST_CASE("detach cuts the tape and shares storage") {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = x * 2.0;
  Tensor d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.storage() == y.storage());
}

TEST_CASE("the profiler reports forward and backward time per op") {
  autodiff::profiler_reset();
  autodiff::set_profiler_enabled(true);
  Tensor a = uniform({32, 32}, -1, 1, {DType::float32}).requires_grad_();
  sum(tanh(matmul(a, a))).backward();
  autodiff::set_profiler_enabled(false);
  bool forward = false, backward = false;
  for (const auto& row : autodiff::profiler_rows()) {
    if (row.name == "matmul" && row.phase == autodiff::Phase::forward) forward = row.calls == 1;
    if (row.name == "matmul" && row.phase == autodiff::Phase::backward) backward = row.calls >= 1;
  }
  CHECK(forward);
  CHECK(backward);
  CHECK_THAT(autodiff::profiler_table(), Catch::Contains("matmul") && Catch::Contains("self ms"));
}

TEST_CASE("random numbers and reductions do not depend on the thread count") {
  auto draw = [](int threads) {
    set_num_threads(threads);
    Generator g(42);
    Tensor u = uniform({300000}, -1, 1, {DType::float32}, &g);
    Tensor n = normal({300000}, 0, 1, {DType::float64}, &g);
    auto s = sum(u).item<double>();
    auto m = sum(reshape(n, {600, 500}), {0}).to_vector<double>();
    return std::make_tuple(u.to_vector<float>(), s, m);
  };
  auto one = draw(1);
  auto two = draw(2);
  set_num_threads(2);
  CHECK(std::get<0>(one) == std::get<0>(two));
  CHECK(std::get<1>(one) == std::get<1>(two));
  CHECK(std::get<2>(one) == std::get<2>(two));
}

TEST_CASE("fourth derivative of tanh matches its closed form (programs that reuse a register)") {
  // d^n tanh: s = 1 - t^2; d1 = s, d2 = -2ts, d3 = -2s^2 + 4t^2 s, d4 = 16 t s^2 - 8 t^3 s.
  Tensor x = from_vector(std::vector<double>{-0.8, 0.5, 1.3}, {3}, {DType::float64}).requires_grad_();
  Tensor d = sum(tanh(x));
  for (int n = 0; n < 3; ++n) d = sum(grad(d, x, {.create_graph = true}));
  Tensor d4 = grad(d, x);
  auto v = d4.to_vector<double>();
  const double xs[] = {-0.8, 0.5, 1.3};
  for (int i = 0; i < 3; ++i) {
    double t = std::tanh(xs[i]), s = 1 - t * t;
    CHECK(v[i] == Approx(16 * t * s * s - 8 * t * t * t * s).epsilon(1e-12));
  }
}

namespace {
// An op with a hand-written backward (not in differentiable ops): first order only.
Tensor cube_first_order(const Tensor& x) {
  Tensor out;
  {
    NoGrad off;
    out = x * x * x;
  }
  return record_first_order("cube_first_order", out, {x}, [x](const Tensor& g, NeedsGrad) {
    return Grads{g * x.detach() * x.detach() * 3.0};
  });
}
// An op whose rule (wrongly) starts a sweep of its own.
Tensor square_by_nested_grad(const Tensor& x) {
  Tensor out;
  {
    NoGrad off;
    out = x * x;
  }
  return record("square_by_nested_grad", out, {x}, [x](const Tensor& g, NeedsGrad) {
    Tensor leaf = x.detach().requires_grad_();
    return Grads{g * grad(sum(leaf * leaf), leaf)};
  });
}
}  // namespace

TEST_CASE("a backward rule cannot start a sweep of its own") {
  Tensor x = vec({1, 2}).requires_grad_();
  REQUIRE_THROWS_WITH(grad(sum(square_by_nested_grad(x)), x),
                      Catch::Contains("[grad] called inside the backward rule of 'square_by_nested_grad'"));
  REQUIRE_THROWS_WITH(sum(square_by_nested_grad(x)).backward(), Catch::Contains("square_by_nested_grad"));
  // The engine is usable afterwards.
  CHECK(at(grad(sum(x * x), x), 1) == Approx(4));
}

TEST_CASE("an op with a first-order-only rule refuses create_graph instead of answering wrongly") {
  Tensor x = vec({0.5, 2.0}).requires_grad_();
  Tensor g = grad(sum(cube_first_order(x)), x);
  CHECK(at(g, 1) == Approx(12.0));
  REQUIRE_THROWS_WITH(grad(sum(cube_first_order(x)), x, {.create_graph = true}),
                      Catch::Contains("[cube_first_order]") && Catch::Contains("first-order only"));
}

TEST_CASE("backward hands each leaf its gradient as soon as the last rule feeding it has run") {
  // A three-layer chain: w2 feeds only the last op, so its gradient is final first; w0 feeds the
  // first op and is final last. Each leaf is reported once, with its .grad already complete.
  Tensor x = vec({0.5, -1.0, 2.0});
  Tensor w0 = vec({1, 2, 3}).requires_grad_(), w1 = vec({0.5, 0.25, 2}).requires_grad_(),
         w2 = vec({-1, 1, 3}).requires_grad_();
  Tensor h0 = tanh(x * w0), h1 = tanh(h0 * w1 + w0), y = sum(h1 * w2);
  std::vector<std::string> order;
  std::vector<std::vector<double>> seen;
  backward({y}, {}, false, [&](const autodiff::Node<Tensor>* leaf) {
    for (auto [name, w] : {std::pair{"w0", &w0}, std::pair{"w1", &w1}, std::pair{"w2", &w2}})
      if (w->node().get() == leaf) {
        order.push_back(name);
        seen.push_back(w->grad().to_vector<double>());
      }
  });
  CHECK(order == std::vector<std::string>{"w2", "w1", "w0"});
  // What the hook saw is the final gradient, the same as a plain backward's.
  Tensor a = w0.detach().requires_grad_(), b = w1.detach().requires_grad_(), c = w2.detach().requires_grad_();
  sum(tanh(tanh(x * a) * b + a) * c).backward();
  CHECK(seen[2] == a.grad().to_vector<double>());
  CHECK(seen[1] == b.grad().to_vector<double>());
  CHECK(seen[0] == c.grad().to_vector<double>());
  CHECK(w0.grad().to_vector<double>() == a.grad().to_vector<double>());
}

TEST_CASE("a leaf that is itself an output and feeds a rule gets one report with its whole gradient") {
  Tensor w = vec({1, 2}).requires_grad_();
  int reports = 0;
  backward({sum(w * w), sum(w)}, {}, false, [&](const autodiff::Node<Tensor>*) { ++reports; });
  CHECK(reports == 1);
  CHECK(w.grad().to_vector<double>() == std::vector<double>{3, 5});  // 2w + 1
}
