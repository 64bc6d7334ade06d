// Fused elementwise expressions (`fuse`, `fuse_all`): the same values and gradients as the
// unfused composition and as fusion switched off, at first and second order; one tape node per
// fused expression; broadcasting, strided and int64 operands; the joint first-order vjp.
#include "helpers.hpp"

using namespace mttt;
using namespace test;

namespace {

struct FusedCase {
  std::string name;
  std::function<Tensor(const std::vector<Tensor>&)> fused;     // one fuse call
  std::function<Tensor(const std::vector<Tensor>&)> composed;  // the same with tensor ops
};

// Three operands broadcast to (3, 2, 4); c is kept positive for log and sqrt.
std::vector<Tensor> operands(std::uint64_t seed, DType dtype = DType::float64) {
  return {cast(rnd({3, 1, 4}, -1, 1, seed), dtype), cast(rnd({2, 4}, -1, 1, seed + 1), dtype),
          cast(rnd({4}, 0.5, 2, seed + 2), dtype)};
}

std::vector<FusedCase> cases() {
  using V = const std::vector<Tensor>&;
  return {
      {"gelu(a * b + c)", [](V v) { return fuse([](Expr a, Expr b, Expr c) { return gelu(a * b + c); }, v[0], v[1], v[2]); },
       [](V v) { return gelu(v[0] * v[1] + v[2]); }},
      {"a * a + a / c - exp(b)",
       [](V v) { return fuse([](Expr a, Expr b, Expr c) { return a * a + a / c - exp(b); }, v[0], v[1], v[2]); },
       [](V v) { return v[0] * v[0] + v[0] / v[2] - exp(v[1]); }},
      {"where(a > b, sin(a) * c, log(c) - b)",
       [](V v) {
         return fuse([](Expr a, Expr b, Expr c) { return where(gt(a, b), sin(a) * c, log(c) - b); }, v[0], v[1], v[2]);
       },
       [](V v) { return where(gt(v[0], v[1]), sin(v[0]) * v[2], log(v[2]) - v[1]); }},
      {"sigmoid(a) * tanh(b) + sqrt(c) * 0.5 - 2",
       [](V v) {
         return fuse([](Expr a, Expr b, Expr c) { return sigmoid(a) * tanh(b) + sqrt(c) * 0.5 - 2.0; }, v[0], v[1], v[2]);
       },
       [](V v) { return sigmoid(v[0]) * tanh(v[1]) + sqrt(v[2]) * 0.5 - 2.0; }},
      {"pow(c, a) + rsqrt(c) * erf(b) + elu(a, 0.7)",
       [](V v) {
         return fuse([](Expr a, Expr b, Expr c) { return pow(c, a) + rsqrt(c) * erf(b) + elu(a, 0.7); }, v[0], v[1],
                     v[2]);
       },
       [](V v) { return pow(v[2], v[0]) + rsqrt(v[2]) * erf(v[1]) + elu(v[0], 0.7); }},
      {"1 / (1 + square(a)) - cos(b * c) + log1p(c) * expm1(b)",
       [](V v) {
         return fuse([](Expr a, Expr b, Expr c) { return 1.0 / (1.0 + square(a)) - cos(b * c) + log1p(c) * expm1(b); },
                     v[0], v[1], v[2]);
       },
       [](V v) { return 1.0 / (1.0 + square(v[0])) - cos(v[1] * v[2]) + log1p(v[2]) * expm1(v[1]); }},
      {"gelu_erf(a) * reciprocal(c) - pow(c, 1.5) * b",
       [](V v) {
         return fuse([](Expr a, Expr b, Expr c) { return gelu_erf(a) * reciprocal(c) - pow(c, 1.5) * b; }, v[0], v[1],
                     v[2]);
       },
       [](V v) { return gelu_erf(v[0]) * reciprocal(v[2]) - pow(v[2], 1.5) * v[1]; }},
  };
}

// Gradients of <f(x), w> at first order, and the Hessian-vector product grad <grad <f, w>, u>.
std::pair<std::vector<Tensor>, std::vector<Tensor>> derivatives(const TensorFunction& f, const std::vector<Tensor>& x) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : x) leaves.push_back(t.detach().requires_grad_());
  Tensor y = f(leaves);
  Tensor w = rnd(y.shape(), -1, 1, 99);
  auto g1 = grad({y}, leaves, {w}, {.retain_graph = true, .allow_unused = true});
  auto gg = grad({y}, leaves, {w}, {.create_graph = true, .allow_unused = true});
  Tensor inner = f64({0}, {});
  for (std::size_t i = 0; i < gg.size(); ++i) inner = inner + sum(gg[i] * rnd(gg[i].shape(), -1, 1, 100 + i));
  auto g2 = grad({inner}, leaves, {}, {.allow_unused = true});
  return {g1, g2};
}

void check_all_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double tol) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("input " << i);
    REQUIRE(a[i].defined() == b[i].defined());
    if (a[i].defined()) check_same(a[i], b[i], tol);
  }
}

}  // namespace

TEST_CASE("fuse: the same values as the composed ops, with fusion on and off") {
  for (const auto& c : cases()) {
    INFO("expression " << c.name);
    for (DType dtype : {DType::float64, DType::float32}) {
      auto v = operands(1, dtype);
      Tensor ref = c.composed(v);
      Tensor on = c.fused(v);
      Tensor off;
      {
        FusionScope no_fusion(false);
        off = c.fused(v);
      }
      check_shape(on, {3, 2, 4});
      CHECK(on.dtype() == dtype);
      const double tol = dtype == DType::float64 ? 1e-13 : 2e-6;
      check_same(on, ref, tol);
      check_same(off, ref, tol);
    }
    // Strided operands: a transposed a, a stepped slice for b, an expanded c.
    Tensor a = transpose(rnd({4, 1, 3}, -1, 1, 7), 0, 2);                 // (3, 1, 4)
    Tensor b = slice(rnd({2, 8}, -1, 1, 8), 1, 0, 8, 2);                  // (2, 4)
    Tensor cc = expand(slice(rnd({1, 4}, 0.5, 2, 9), 0, 0, 1), {2, 4});  // (2, 4), stride 0 rows
    check_same(c.fused({a, b, cc}), c.composed({a, b, cc}), 1e-13);
    // More elements than one interpreter block.
    auto big = std::vector<Tensor>{rnd({30, 1, 20}, -1, 1, 10), rnd({7, 20}, -1, 1, 11), rnd({20}, 0.5, 2, 12)};
    check_same(c.fused(big), c.composed(big), 1e-13);
  }
}

TEST_CASE("fuse: first- and second-order gradients agree with the composed ops, fusion on and off") {
  for (const auto& c : cases()) {
    INFO("expression " << c.name);
    auto v = operands(21);
    auto [ref1, ref2] = derivatives(c.composed, v);
    auto [on1, on2] = derivatives(c.fused, v);
    std::pair<std::vector<Tensor>, std::vector<Tensor>> off;
    {
      FusionScope no_fusion(false);
      off = derivatives(c.fused, v);
    }
    check_all_same(on1, ref1, 1e-12);
    check_all_same(off.first, ref1, 1e-12);
    check_all_same(on2, ref2, 1e-12);
    check_all_same(off.second, ref2, 1e-12);
  }
}

TEST_CASE("fuse: gradcheck orders 1 and 2 (3 for one expression) with fusion on and off") {
  for (bool fusion : {true, false}) {
    FusionScope scope(fusion);
    INFO("fusion " << fusion);
    for (const auto& c : cases()) {
      INFO("expression " << c.name);
      auto v = std::vector<Tensor>{rnd({2, 1, 3}, -1, 1, 31), rnd({2, 3}, -1, 1, 32), rnd({3}, 0.5, 2, 33)};
      gradcheck12(c.fused, v);
    }
    // An operand seen through a transposed view inside f.
    gradcheck123(
        [](const std::vector<Tensor>& v) {
          return fuse([](Expr a, Expr b) { return tanh(a * b) + a * a * b; }, transpose(v[0]), v[1]);
        },
        {rnd({3, 2}, -1, 1, 34), rnd({2, 1}, -1, 1, 35)});
  }
}

TEST_CASE("fuse records one tape node; with fusion off, one per instruction") {
  Tensor a = rnd({4}, -1, 1, 41).requires_grad_(), b = rnd({4}, -1, 1, 42).requires_grad_();
  auto f = [&] { return fuse([](Expr x, Expr y) { return gelu(x * y + x); }, a, b); };
  Tensor on = f();
  REQUIRE(on.requires_grad());
  CHECK(std::string(on.node()->name()) == "fused");
  REQUIRE(on.node()->inputs().size() == 2);
  CHECK(on.node()->inputs()[0] == a.node());
  CHECK(on.node()->inputs()[1] == b.node());
  FusionScope no_fusion(false);
  Tensor off = f();
  CHECK(std::string(off.node()->name()) == "gelu_tanh");
  REQUIRE(off.node()->inputs().size() == 1);
  CHECK(std::string(off.node()->inputs()[0]->name()) == "add");
}

TEST_CASE("FusionScope restores the previous setting, nested") {
  const bool initial = fusion_enabled();
  {
    FusionScope off(false);
    CHECK_FALSE(fusion_enabled());
    {
      FusionScope on(true);
      CHECK(fusion_enabled());
    }
    CHECK_FALSE(fusion_enabled());
  }
  CHECK(fusion_enabled() == initial);
}

TEST_CASE("fuse: int64 arithmetic, comparisons and where") {
  Tensor a = i64({1, -2, 3, 4, -5, 6}, {2, 3});
  Tensor b = i64({2, 2, -1}, {3});
  auto f = [](Expr x, Expr y) { return where(gt(x, y), x * y + 3.0, maximum(x, y) - square(x)); };
  Tensor y = fuse(f, a, b);
  CHECK(y.dtype() == DType::int64);
  Vec av = a.to_vector<double>(), bv = b.to_vector<double>();
  Vec expected = ref_binary(av, {2, 3}, bv, {3}, [](double x, double yy) { return x > yy ? x * yy + 3 : std::max(x, yy) - x * x; });
  CHECK(y.to_vector<double>() == expected);
  FusionScope no_fusion(false);
  CHECK(fuse(f, transpose(transpose(a)), b).to_vector<double>() == expected);
}

TEST_CASE("fuse_all: a run-time list of operands, some unused") {
  std::vector<Tensor> xs{rnd({3}, -1, 1, 51), rnd({3}, -1, 1, 52), rnd({2, 3}, -1, 1, 53), rnd({3}, -1, 1, 54)};
  // Sum of the squares of operands 0, 2 and 3; operand 1 is not read.
  auto f = [](const std::vector<Tensor>& v) {
    return fuse_all(
        [](const std::vector<Expr>& e) {
          Expr acc = e[0] * e[0];
          for (std::size_t i = 2; i < e.size(); ++i) acc = acc + e[i] * e[i];
          return acc;
        },
        v);
  };
  Tensor y = f(xs);
  check_shape(y, {2, 3});
  check_same(y, xs[0] * xs[0] + xs[2] * xs[2] + xs[3] * xs[3], 1e-14);
  std::vector<Tensor> leaves;
  for (const Tensor& x : xs) leaves.push_back(x.detach().requires_grad_());
  auto g = grad({sum(f(leaves))}, leaves, {}, {.allow_unused = true});
  check_values(g[0], ref_unary(xs[0].to_vector<double>(), [](double v) { return 4 * v; }), 1e-14);  // broadcast twice
  CHECK((!g[1].defined() || g[1].to_vector<double>() == Vec(3, 0.0)));
  check_values(g[2], ref_unary(xs[2].to_vector<double>(), [](double v) { return 2 * v; }), 1e-14);
}

TEST_CASE("joint first-order vjp equals the per-input vjps and the anomaly-mode sweep") {
  // With several inputs requiring grad, a first-order sweep evaluates one joint program; with
  // one input at a time, or under anomaly mode, each cotangent is its own program.
  auto v = operands(61);
  for (const auto& c : cases()) {
    INFO("expression " << c.name);
    std::vector<Tensor> leaves;
    for (const Tensor& t : v) leaves.push_back(t.detach().requires_grad_());
    Tensor y = c.fused(leaves);
    Tensor w = rnd(y.shape(), -1, 1, 62);
    auto joint = grad({y}, leaves, {w});
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::vector<Tensor> one = v;
      one[i] = v[i].detach().requires_grad_();
      Tensor gi = grad({c.fused(one)}, {one[i]}, {w})[0];
      INFO("input " << i);
      check_same(joint[i], gi, 1e-14);
    }
    DetectAnomaly anomaly;
    std::vector<Tensor> leaves2;
    for (const Tensor& t : v) leaves2.push_back(t.detach().requires_grad_());
    check_all_same(grad({c.fused(leaves2)}, leaves2, {w}), joint, 1e-14);
  }
}

TEST_CASE("every elementwise op differentiates the same with fusion off (orders 1 and 2)") {
  // With fusion off a backward rule that is a multi-instruction program runs op by op; kinks
  // (relu, abs, max, clamp at 0.7) are kept away from the inputs.
  using V = const std::vector<Tensor>&;
  const std::vector<std::pair<std::string, TensorFunction>> ops = {
      {"relu", [](V v) { return relu(v[0]) * v[1]; }},
      {"abs", [](V v) { return abs(v[0]) * v[1]; }},
      {"sign", [](V v) { return sign(v[0]) * v[1] * v[1]; }},
      {"neg", [](V v) { return neg(v[0]) * v[1]; }},
      {"square", [](V v) { return square(v[0] - v[1]); }},
      {"maximum", [](V v) { return maximum(v[0], v[1]) * v[0]; }},
      {"minimum", [](V v) { return minimum(v[0], v[1]) * v[1]; }},
      {"clamp", [](V v) { return clamp(v[0], -0.7, 0.7) * v[1]; }},
      {"elu", [](V v) { return elu(v[0], 0.5) * v[1]; }},
      {"step", [](V v) { return fuse([](Expr a, Expr b) { return step(a) * b * b + a; }, v[0], v[1]); }},
      {"pow(a, b)", [](V v) { return pow(v[1] * v[1] + 0.5, v[0]); }},
      {"div", [](V v) { return v[0] / (v[1] * v[1] + 0.5); }},
      {"where", [](V v) { return where(lt(v[0], v[1]), v[0] * v[1], square(v[1])); }},
  };
  // a on a 0.1 grid + 0.05, b on the 0.1 grid shifted by 0.03: no ties, nothing at 0 or +-0.7.
  Vec av{-0.95, -0.45, 0.15, 0.35, 0.85, -0.25}, bv{0.33, -0.57, 0.13};
  const std::vector<Tensor> inputs{f64(av, {2, 3}), f64(bv, {3})};
  for (const auto& [name, f] : ops) {
    INFO("op " << name);
    auto [on1, on2] = derivatives(f, inputs);
    FusionScope no_fusion(false);
    auto [off1, off2] = derivatives(f, inputs);
    check_all_same(off1, on1, 1e-13);
    check_all_same(off2, on2, 1e-13);
    gradcheck12(f, inputs);
  }
}

TEST_CASE("operands that fold away still set the result's shape, dtype and device") {
  // 0 * x folds to the constant 0, and the program no longer reads x.
  for (bool fusion : {true, false}) {
    FusionScope scope(fusion);
    INFO("fusion " << fusion);
    Tensor x = rnd({2, 3}, -1, 1, 71), b = rnd({3}, -1, 1, 72);
    Tensor z = x * 0.0;
    check_shape(z, {2, 3});
    CHECK(z.dtype() == DType::float64);
    check_values(z, Vec(6, 0.0), 0);
    check_shape(0.0 * transpose(x), {3, 2});
    Tensor y = fuse([](Expr a, Expr c) { return a * 0.0 + c; }, x, b);
    check_shape(y, {2, 3});
    check_values(y, ref_binary(Vec(6, 0.0), {2, 3}, b.to_vector<double>(), {3}, std::plus<>()), 0);
    CHECK((i64({1, 2}, {2, 1}) * 0.0).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0});
    // b's cotangent is summed over the rows that x's shape added.
    Tensor bl = b.detach().requires_grad_();
    check_values(grad(sum(fuse([](Expr a, Expr c) { return a * 0.0 + c; }, x, bl)), bl), {2, 2, 2}, 0);
    Tensor xl = x.detach().requires_grad_();
    check_values(grad({sum(xl * 0.0)}, {xl}, {}, {.allow_unused = true})[0], Vec(6, 0.0), 0);
  }
}
