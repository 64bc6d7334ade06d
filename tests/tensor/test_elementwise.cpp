// Elementwise ops: forward values against host references (float64, float32, int64, broadcast
// and strided operands), gradcheck orders 1-2 for every differentiable op (3 for tanh and mul),
// comparisons, where, cast and the scalar operators.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "helpers.hpp"

using namespace mttt;
using namespace test;

namespace {

struct UnaryCase {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  // The inputs: uniform in [lo, hi), or (away) uniform in +-[gap, 1 + gap).
  double lo = -1, hi = 1;
  bool away = false;
  double gap = 0.2;
  bool int64_ok = false;
};

double sigmoid_ref(double x) { return 1 / (1 + std::exp(-x)); }
double gelu_ref(double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
double gelu_erf_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }, -1, 1, false, 0.2, true},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }, -2, 2},
      {"expm1", [](const Tensor& x) { return expm1(x); }, [](double x) { return std::expm1(x); }, -2, 2},
      {"log", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); }, 0.5, 2},
      {"log1p", [](const Tensor& x) { return log1p(x); }, [](double x) { return std::log1p(x); }, -0.5, 2},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); }, 0.5, 2},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, [](double x) { return 1 / std::sqrt(x); }, 0.5, 2},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double x) { return std::abs(x); }, -1, 1, true, 0.2, true},
      {"sign", [](const Tensor& x) { return sign(x); }, [](double x) { return x > 0 ? 1.0 : -1.0; }, -1, 1, true, 0.2,
       true},
      {"square", [](const Tensor& x) { return square(x); }, [](double x) { return x * x; }, -1, 1, false, 0.2, true},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, [](double x) { return 1 / x; }, -1, 1, true, 0.5},
      {"sin", [](const Tensor& x) { return sin(x); }, [](double x) { return std::sin(x); }, -3, 3},
      {"cos", [](const Tensor& x) { return cos(x); }, [](double x) { return std::cos(x); }, -3, 3},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }, -2, 2},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, sigmoid_ref, -3, 3},
      {"relu", [](const Tensor& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0.0; }, -1, 1, true, 0.2,
       true},
      {"elu", [](const Tensor& x) { return elu(x); }, [](double x) { return x > 0 ? x : std::expm1(x); }, -1, 1, true},
      {"elu(alpha=0.5)", [](const Tensor& x) { return elu(x, 0.5); },
       [](double x) { return x > 0 ? x : 0.5 * std::expm1(x); }, -1, 1, true},
      {"gelu", [](const Tensor& x) { return gelu(x); }, gelu_ref, -3, 3},
      {"gelu_erf", [](const Tensor& x) { return gelu_erf(x); }, gelu_erf_ref, -3, 3},
      {"erf", [](const Tensor& x) { return erf(x); }, [](double x) { return std::erf(x); }, -2, 2},
      {"pow(x, 2.5)", [](const Tensor& x) { return pow(x, 2.5); }, [](double x) { return std::pow(x, 2.5); }, 0.5, 2},
      {"pow(x, 3)", [](const Tensor& x) { return pow(x, 3.0); }, [](double x) { return x * x * x; }, -1.5, 1.5},
      {"pow(x, -1.5)", [](const Tensor& x) { return pow(x, -1.5); }, [](double x) { return std::pow(x, -1.5); }, 0.5,
       2},
  };
}

Tensor unary_input(const UnaryCase& c, const Shape& shape, std::uint64_t seed) {
  return c.away ? rnd_away(shape, c.gap, seed) : rnd(shape, c.lo, c.hi, seed);
}

struct BinaryCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> ref;
  double lo_a = -1, hi_a = 1, lo_b = -1, hi_b = 1;
  bool b_away = false;
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, [](double a, double b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, [](double a, double b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, [](double a, double b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, [](double a, double b) { return a / b; }, -1,
       1, -1, 1, true},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); },
       [](double a, double b) { return std::pow(a, b); }, 0.5, 2, -1.5, 2},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
       [](double a, double b) { return std::max(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
       [](double a, double b) { return std::min(a, b); }},
  };
}

// Operand values for a binary case; max/min get operands that never tie (a on a 0.1 grid
// offset by 0.05 from b's).
std::pair<Tensor, Tensor> binary_inputs(const BinaryCase& c, const Shape& sa, const Shape& sb, std::uint64_t seed) {
  if (c.name == "maximum" || c.name == "minimum") {
    Vec a = rnd_distinct(sa, seed).to_vector<double>();
    Vec b = rnd_distinct(sb, seed + 7).to_vector<double>();
    for (double& x : b) x += 0.05;
    return {from_vector(a, sa, {DType::float64}), from_vector(b, sb, {DType::float64})};
  }
  Tensor a = rnd(sa, c.lo_a, c.hi_a, seed);
  Tensor b = c.b_away ? rnd_away(sb, 0.5, seed + 7) : rnd(sb, c.lo_b, c.hi_b, seed + 7);
  return {a, b};
}

}  // namespace

TEST_CASE("unary ops: forward values, float64 and float32, contiguous and strided") {
  for (const auto& c : unary_cases()) {
    INFO("op " << c.name);
    Tensor x = unary_input(c, {3, 5}, 11);
    Vec xs = x.to_vector<double>();
    Tensor y = c.op(x);
    check_shape(y, {3, 5});
    CHECK(y.dtype() == DType::float64);
    check_values(y, ref_unary(xs, c.ref), 1e-13);

    // Strided: a transposed view and a stepped slice.
    Tensor xt = transpose(x);
    REQUIRE_FALSE(xt.is_contiguous());
    Tensor yt = c.op(xt);
    check_shape(yt, {5, 3});
    check_values(yt, ref_unary(xt.to_vector<double>(), c.ref), 1e-13);
    Tensor xsl = slice(x, 1, 0, 5, 2);
    check_values(c.op(xsl), ref_unary(xsl.to_vector<double>(), c.ref), 1e-13);

    // float32: values converted to float first.
    Tensor x32 = cast(x, DType::float32);
    Tensor y32 = c.op(x32);
    CHECK(y32.dtype() == DType::float32);
    check_values(y32, ref_unary(x32.to_vector<double>(), c.ref), 2e-6);

    // Larger than one block of the interpreter (256), with a strided view.
    Tensor big = unary_input(c, {40, 17}, 12);
    Tensor bigt = transpose(big);
    check_values(c.op(bigt), ref_unary(bigt.to_vector<double>(), c.ref), 1e-13);
  }
}

TEST_CASE("unary ops: int64 where supported") {
  Tensor x = i64({-3, -1, 0, 2, 5, -7}, {2, 3});
  CHECK(neg(x).to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 1, 0, -2, -5, 7});
  CHECK(abs(x).to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 1, 0, 2, 5, 7});
  CHECK(sign(x).to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, -1, 0, 1, 1, -1});
  CHECK(square(x).to_vector<std::int64_t>() == std::vector<std::int64_t>{9, 1, 0, 4, 25, 49});
  CHECK(relu(x).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 0, 2, 5, 0});
  CHECK(neg(x).dtype() == DType::int64);
  CHECK(sign(f64({-2, 0, 3}, {3})).to_vector<double>() == Vec{-1, 0, 1});
}

TEST_CASE("unary ops: gradcheck orders 1 and 2, contiguous and strided inputs") {
  for (const auto& c : unary_cases()) {
    INFO("op " << c.name);
    auto op = c.op;
    gradcheck12([op](const std::vector<Tensor>& v) { return op(v[0]); }, {unary_input(c, {2, 3}, 21)});
    // The op sees a transposed view of a (3, 2) leaf.
    gradcheck12([op](const std::vector<Tensor>& v) { return op(transpose(v[0])); }, {unary_input(c, {3, 2}, 22)});
  }
}

TEST_CASE("tanh: gradcheck order 3 on a strided view") {
  gradcheck123([](const std::vector<Tensor>& v) { return tanh(slice(v[0], 1, 1, 5, 2)); }, {rnd({3, 5}, -1.5, 1.5, 31)});
}

TEST_CASE("clamp: forward and gradients away from the bounds") {
  Vec xs{-1.3, -0.9, -0.3, 0.1, 0.4, 0.95, 1.2, -0.05};
  Tensor x = f64(xs, {2, 4});
  check_values(clamp(x, -0.7, 0.7), ref_unary(xs, [](double v) { return std::clamp(v, -0.7, 0.7); }));
  check_values(clamp(transpose(x), -0.7, 0.7),
               ref_unary(transpose(x).to_vector<double>(), [](double v) { return std::clamp(v, -0.7, 0.7); }));
  gradcheck12([](const std::vector<Tensor>& v) { return clamp(v[0], -0.7, 0.7) * v[0]; }, {x});
  // The gradient is 1 inside, 0 outside.
  Tensor leaf = f64(xs, {2, 4}).requires_grad_();
  check_values(grad(sum(clamp(leaf, -0.7, 0.7)), leaf), {0, 0, 1, 1, 1, 0, 0, 1});
}

TEST_CASE("binary ops: forward values with broadcasting, strided views and float32") {
  const std::vector<std::pair<Index, Index>> shapes = {
      {{2, 3}, {2, 3}}, {{3, 1, 4}, {2, 4}}, {{4}, {3, 4}}, {{2, 1}, {1, 5}}, {{}, {2, 3}}, {{3, 4}, {}}};
  for (const auto& c : binary_cases()) {
    for (const auto& [sa, sb] : shapes) {
      INFO("op " << c.name << " shapes " << sa.size() << "-D and " << sb.size() << "-D");
      auto [a, b] = binary_inputs(c, shp(sa), shp(sb), 41);
      Tensor y = c.op(a, b);
      check_shape(y, broadcast_shape(sa, sb));
      check_values(y, ref_binary(a.to_vector<double>(), sa, b.to_vector<double>(), sb, c.ref), 1e-13);
      Tensor y32 = c.op(cast(a, DType::float32), cast(b, DType::float32));
      CHECK(y32.dtype() == DType::float32);
      check_values(y32,
                   ref_binary(cast(a, DType::float32).to_vector<double>(), sa, cast(b, DType::float32).to_vector<double>(),
                              sb, c.ref),
                   2e-6);
    }
    INFO("op " << c.name << " on strided views");
    auto [a, b] = binary_inputs(c, {5, 3}, {4, 6}, 42);
    Tensor at = transpose(a);                   // (3, 5), strides (1, 3)
    Tensor bs = slice(slice(b, 0, 1, 4), 1, 0, 6, 2);  // (3, 3), strided
    Tensor bsl = slice(bs, 1, 0, 1);             // (3, 1)
    check_values(c.op(at, bsl), ref_binary(at.to_vector<double>(), {3, 5}, bsl.to_vector<double>(), {3, 1}, c.ref), 1e-13);
    Tensor ae = expand(slice(a, 0, 0, 1), {3, 3});  // stride-0 rows
    check_values(c.op(ae, bs), ref_binary(ae.to_vector<double>(), {3, 3}, bs.to_vector<double>(), {3, 3}, c.ref), 1e-13);
    // Larger than one interpreter block, broadcast along the leading axis.
    auto [la, lb] = binary_inputs(c, {30, 1, 20}, {7, 20}, 43);
    check_values(c.op(la, lb), ref_binary(la.to_vector<double>(), {30, 1, 20}, lb.to_vector<double>(), {7, 20}, c.ref),
                 1e-13);
  }
}

TEST_CASE("broadcast and strided inputs across interpreter blocks: runs copied, filled or strided") {
  // Rows whose length does not divide the block, so that blocks start mid-row; inner axes of
  // stride 1 (a bias row), 0 (a column of statistics) and larger (a transposed view). The
  // reference reads the same inputs after contiguous() (the copy kernel, not the interpreter).
  Generator gen(44);
  for (std::int64_t length : {7, 193, 600}) {
    INFO("row length " << length);
    Tensor x = uniform({37, length}, -1, 1, {DType::float64}, &gen);
    Tensor row = uniform({length}, -1, 1, {DType::float64}, &gen);
    Tensor column = uniform({37, 1}, -1, 1, {DType::float64}, &gen);
    Tensor xt = transpose(uniform({length, 37}, -1, 1, {DType::float64}, &gen));
    auto expanded = [&](const Tensor& t) { return contiguous(expand(t, {37, length})); };
    for (const Tensor& other : {row, column, xt}) {
      Tensor y = fuse([](Expr a, Expr b) { return a * b + b; }, x, other);
      Tensor e = expanded(other);
      Tensor reference = fuse([](Expr a, Expr b) { return a * b + b; }, x, e);
      CHECK(y.to_vector<double>() == reference.to_vector<double>());
    }
  }
}

TEST_CASE("binary ops: int64 arithmetic") {
  Tensor a = i64({1, -2, 3, 4, 5, -6}, {2, 3});
  Tensor b = i64({10, 20, 30}, {3});
  CHECK(add(a, b).to_vector<std::int64_t>() == std::vector<std::int64_t>{11, 18, 33, 14, 25, 24});
  CHECK(sub(a, b).to_vector<std::int64_t>() == std::vector<std::int64_t>{-9, -22, -27, -6, -15, -36});
  CHECK(mul(a, b).to_vector<std::int64_t>() == std::vector<std::int64_t>{10, -40, 90, 40, 100, -180});
  CHECK(maximum(a, i64({2}, {1})).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 2, 3, 4, 5, 2});
  CHECK(minimum(a, i64({2}, {1})).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 2, 2, 2, -6});
  CHECK((a + 1.0).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, -1, 4, 5, 6, -5});
  CHECK((a * 2.0).dtype() == DType::int64);
  // Exact beyond float precision.
  std::int64_t big = (std::int64_t{1} << 53) + 1;
  CHECK(add(i64({big}, {1}), i64({2}, {1})).item<std::int64_t>() == big + 2);
}

TEST_CASE("binary ops: gradcheck orders 1 and 2 with broadcasting and strided inputs") {
  for (const auto& c : binary_cases()) {
    INFO("op " << c.name);
    auto op = c.op;
    auto [a, b] = binary_inputs(c, {2, 3}, {2, 3}, 51);
    gradcheck12([op](const std::vector<Tensor>& v) { return op(v[0], v[1]); }, {a, b});
    auto [ba, bb] = binary_inputs(c, {3, 1, 4}, {2, 4}, 52);
    gradcheck12([op](const std::vector<Tensor>& v) { return op(v[0], v[1]); }, {ba, bb});
    // a: transposed view of a (4, 2) leaf; b: a scalar-like (1) operand... and swapped.
    auto [ta, tb] = binary_inputs(c, {4, 2}, {2, 1}, 53);
    gradcheck12([op](const std::vector<Tensor>& v) { return op(transpose(v[0]), v[1]); }, {ta, tb});
    gradcheck12([op](const std::vector<Tensor>& v) { return op(v[1], transpose(v[0])); }, {ta, tb});
  }
}

TEST_CASE("mul: gradcheck order 3 with broadcasting and a strided view") {
  gradcheck123([](const std::vector<Tensor>& v) { return mul(v[0], transpose(v[1])); }, {rnd({3, 1, 4}, -1, 1, 61),
                                                                                         rnd({4, 2}, -1, 1, 62)});
  // x * x * x has a non-zero third derivative.
  gradcheck123([](const std::vector<Tensor>& v) { return mul(mul(v[0], v[0]), v[0]); }, {rnd({5}, -1, 1, 63)});
}

TEST_CASE("comparisons: float and int64, broadcast, result in the inputs' dtype") {
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f64({2, 2, 5}, {3});
  CHECK(eq(a, b).to_vector<double>() == Vec{0, 1, 0, 0, 0, 0});
  CHECK(ne(a, b).to_vector<double>() == Vec{1, 0, 1, 1, 1, 1});
  CHECK(lt(a, b).to_vector<double>() == Vec{1, 0, 1, 0, 0, 0});
  CHECK(le(a, b).to_vector<double>() == Vec{1, 1, 1, 0, 0, 0});
  CHECK(gt(a, b).to_vector<double>() == Vec{0, 0, 0, 1, 1, 1});
  CHECK(ge(a, b).to_vector<double>() == Vec{0, 1, 0, 1, 1, 1});
  CHECK(gt(a, b).dtype() == DType::float64);
  Tensor ai = i64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor bi = i64({2, 2, 5}, {3});
  CHECK(lt(ai, bi).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1, 0, 0, 0});
  CHECK(eq(ai, bi).dtype() == DType::int64);
  CHECK(ge(transpose(ai), i64({3}, {1})).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 0, 1, 1, 1});
  Tensor a32 = f32({1, 2, 3}, {3});
  CHECK(ge(a32, f32({2}, {})).to_vector<double>() == Vec{0, 1, 1});
  CHECK(ge(a32, f32({2}, {})).dtype() == DType::float32);
  // Comparisons are constants for autodiff.
  Tensor x = f64({1, 2}, {2}).requires_grad_();
  Tensor y = sum(gt(x, f64({1.5}, {1})) * x);
  check_values(grad(y, x), {0, 1});
}

TEST_CASE("where: forward with broadcasting, float and int64, and gradients") {
  Tensor cond = f64({1, 0, 1, 0, 0, 1}, {2, 3});
  Tensor a = f64({10, 20, 30}, {3});
  Tensor b = f64({-1, -2}, {2, 1});
  CHECK(where(cond, a, b).to_vector<double>() == Vec{10, -1, 30, -2, -2, 30});
  CHECK(where(transpose(cond), f64({7}, {}), f64({8}, {})).to_vector<double>() == Vec{7, 8, 8, 8, 7, 7});
  Tensor ci = i64({0, 3, -1}, {3});  // any non-zero is true
  CHECK(where(ci, i64({1, 2, 3}, {3}), i64({9}, {1})).to_vector<std::int64_t>() == std::vector<std::int64_t>{9, 2, 3});

  Tensor c2 = f64({1, 0, 0, 1, 1, 0, 1, 0}, {2, 1, 4});
  gradcheck12([c2](const std::vector<Tensor>& v) { return where(c2, v[0] * v[0], tanh(v[1])); },
              {rnd({3, 1}, -1, 1, 71), rnd({4}, -1, 1, 72)});
  gradcheck12([c2](const std::vector<Tensor>& v) { return where(c2, transpose(v[0]), v[1]); },
              {rnd({4, 3}, -1, 1, 73), rnd({3, 4}, -1, 1, 74)});
}

TEST_CASE("cast: values, dtypes and gradients between floating types") {
  Tensor x = f64({1.25, -2.5, 3.75, 1e-3}, {2, 2});
  Tensor x32 = cast(x, DType::float32);
  CHECK(x32.dtype() == DType::float32);
  check_values(x32, {1.25, -2.5, 3.75, static_cast<double>(1e-3f)}, 0);
  Tensor xi = cast(f64({1.7, -2.7, 3.0}, {3}), DType::int64);
  CHECK(xi.dtype() == DType::int64);
  CHECK(xi.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 3});  // truncation toward zero
  check_values(cast(i64({4, -5}, {2}), DType::float64), {4, -5});
  check_values(cast(transpose(x), DType::float32), {1.25, 3.75, -2.5, static_cast<double>(1e-3f)}, 0);
  CHECK(cast(x, DType::float64).dtype() == DType::float64);

  // The gradient of a cast comes back in the input's dtype.
  Tensor leaf = f64({1, 2, 3}, {3}).requires_grad_();
  Tensor w = f32({0.5, -1, 2}, {3});
  Tensor g = grad(sum(cast(leaf, DType::float32) * w), leaf);
  CHECK(g.dtype() == DType::float64);
  check_values(g, {0.5, -1, 2});
  // float64 -> float64 cast is differentiable to second order.
  gradcheck12([](const std::vector<Tensor>& v) { return cast(v[0] * v[0] * v[0], DType::float64); }, {rnd({4}, -1, 1, 81)});
  // Round trip through float32 inside a second-order graph keeps float64 gradients' dtype.
  Tensor l2 = f64({0.5, 1.5}, {2}).requires_grad_();
  Tensor g1 = grad(sum(cast(l2 * l2 * l2, DType::float32)), l2, {.create_graph = true});
  Tensor g2 = grad(sum(g1), l2);
  CHECK(g2.dtype() == DType::float64);
  check_values(g2, {3.0, 9.0}, 1e-6);
}

TEST_CASE("scalar operators take the tensor's dtype and differentiate") {
  Tensor x = f64({1, 2, 4}, {3});
  check_values(x + 2.0, {3, 4, 6});
  check_values(2.0 + x, {3, 4, 6});
  check_values(x - 2.0, {-1, 0, 2});
  check_values(2.0 - x, {1, 0, -2});
  check_values(x * 3.0, {3, 6, 12});
  check_values(3.0 * x, {3, 6, 12});
  check_values(x / 2.0, {0.5, 1, 2});
  check_values(2.0 / x, {2, 1, 0.5});
  check_values(-x, {-1, -2, -4});
  check_values(x + x * x - x / x, {1, 5, 19});
  Tensor x32 = f32({1, 2}, {2});
  CHECK((x32 * 0.1).dtype() == DType::float32);
  check_values(x32 * 0.1, {static_cast<double>(0.1f), static_cast<double>(2.0f * 0.1f)}, 1e-7);
  gradcheck12([](const std::vector<Tensor>& v) { return 2.0 / v[0] - 3.0 * v[0] + (1.0 - v[0]) * v[0] / 4.0; },
              {rnd({2, 3}, 0.5, 2, 91)});
}

TEST_CASE("elementwise ops broadcast a rank-0 tensor and keep requires_grad off without leaves") {
  Tensor s = f64({2}, {});
  Tensor x = rnd({2, 2}, -1, 1, 101);
  check_shape(x * s, {2, 2});
  check_shape(s * s, {});
  CHECK_FALSE((x * s).requires_grad());
  Tensor leaf = rnd({2, 2}, -1, 1, 102).requires_grad_();
  CHECK((leaf * s).requires_grad());
  {
    NoGrad no_grad;
    CHECK_FALSE((leaf * s).requires_grad());
  }
  gradcheck12([](const std::vector<Tensor>& v) { return sin(v[0]) * v[1]; }, {f64({0.3}, {}), rnd({2, 3}, -1, 1, 103)});
}

TEST_CASE("gradcheck catches a wrong first-order rule and a rule that is not differentiable again") {
  // x^2 with the rule 2.5 g x: wrong at order 1.
  auto wrong = [](const std::vector<Tensor>& v) {
    Tensor x = v[0];
    Tensor out;
    {
      NoGrad no_grad;
      out = x * x;
    }
    return record("wrong_square", out, {x}, [x](const Tensor& g, NeedsGrad) { return Grads{g * x * 2.5}; });
  };
  CHECK_FALSE(gradcheck(wrong, {rnd({3}, 0.5, 1, 111)}).ok);
  // x^3 with the rule 3 g x^2 evaluated on detached values: right at order 1, wrong at order 2
  // (the gradient does not depend on x on the tape).
  auto first_only = [](const std::vector<Tensor>& v) {
    Tensor x = v[0];
    Tensor out;
    {
      NoGrad no_grad;
      out = x * x * x;
    }
    return record("first_only_cube", out, {x}, [x](const Tensor& g, NeedsGrad) {
      Tensor xd = x.detach();
      return Grads{g * xd * xd * 3.0};
    });
  };
  Tensor x = rnd({3}, 0.5, 1, 112);
  CHECK(gradcheck(first_only, {x}).ok);
  GradcheckResult r2 = gradcheck(first_only, {x}, {.order = 2});
  CHECK_FALSE(r2.ok);
  CHECK_THAT(r2.message, Catch::Contains("order 2"));
}
