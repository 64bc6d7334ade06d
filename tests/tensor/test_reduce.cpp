// Reductions: values against a naive fold over every axis set (negative axes, keepdim, strided
// inputs, float32, int64), argmax/argmin ties, and gradcheck orders 1-2.
#include <algorithm>
#include <cmath>
#include <limits>

#include "helpers.hpp"

using namespace mttt;
using namespace test;

namespace {

using V = const std::vector<Tensor>&;

struct ReduceCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Axes&, bool)> op;
  std::function<Vec(const Vec&, const Index&, const Index&)> ref;
};

Vec ref_sum(const Vec& x, const Index& s, const Index& axes) { return ref_reduce(x, s, axes, 0, std::plus<>()); }
Vec ref_mean(const Vec& x, const Index& s, const Index& axes) {
  return ref_reduce(x, s, axes, 0, std::plus<>(), [](double a, std::int64_t n) { return a / static_cast<double>(n); });
}
Vec ref_max(const Vec& x, const Index& s, const Index& axes) {
  return ref_reduce(x, s, axes, -std::numeric_limits<double>::infinity(), [](double a, double b) { return std::max(a, b); });
}
Vec ref_min(const Vec& x, const Index& s, const Index& axes) {
  return ref_reduce(x, s, axes, std::numeric_limits<double>::infinity(), [](double a, double b) { return std::min(a, b); });
}
Vec ref_var(const Vec& x, const Index& s, const Index& axes, std::int64_t correction) {
  Vec m = ref_mean(x, s, axes);
  // Squared deviations from the mean of each output, then summed.
  std::vector<bool> reduced(s.size(), axes.empty());
  for (auto a : axes) reduced[a] = true;
  Index os;
  std::int64_t n = 1;
  for (std::size_t d = 0; d < s.size(); ++d) {
    if (!reduced[d]) os.push_back(s[d]);
    else n *= s[d];
  }
  Vec out(m.size(), 0);
  for (std::int64_t i = 0; i < count(s); ++i) {
    Index at = unravel(i, s), o;
    for (std::size_t d = 0; d < s.size(); ++d)
      if (!reduced[d]) o.push_back(at[d]);
    std::int64_t j = ravel(o, os);
    out[j] += (x[i] - m[j]) * (x[i] - m[j]);
  }
  for (double& v : out) v /= static_cast<double>(n - correction);
  return out;
}
Vec ref_logsumexp(const Vec& x, const Index& s, const Index& axes) {
  Vec e = ref_unary(x, [](double v) { return std::exp(v); });
  return ref_unary(ref_sum(e, s, axes), [](double v) { return std::log(v); });
}

std::vector<ReduceCase> cases() {
  return {
      {"sum", [](const Tensor& x, const Axes& a, bool k) { return sum(x, a, k); }, ref_sum},
      {"mean", [](const Tensor& x, const Axes& a, bool k) { return mean(x, a, k); }, ref_mean},
      {"max", [](const Tensor& x, const Axes& a, bool k) { return max(x, a, k); }, ref_max},
      {"min", [](const Tensor& x, const Axes& a, bool k) { return min(x, a, k); }, ref_min},
      {"var", [](const Tensor& x, const Axes& a, bool k) { return var(x, a, k); },
       [](const Vec& x, const Index& s, const Index& a) { return ref_var(x, s, a, 0); }},
      {"var(correction=1)", [](const Tensor& x, const Axes& a, bool k) { return var(x, a, k, 1); },
       [](const Vec& x, const Index& s, const Index& a) { return ref_var(x, s, a, 1); }},
      {"logsumexp", [](const Tensor& x, const Axes& a, bool k) { return logsumexp(x, a, k); }, ref_logsumexp},
  };
}

// The keepdim shape of reducing `shape` over non-negative `axes` (all when empty).
Index kept_shape(const Index& shape, const Index& axes, bool keepdim) {
  Index out;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    bool reduced = axes.empty() || std::find(axes.begin(), axes.end(), static_cast<std::int64_t>(d)) != axes.end();
    if (!reduced) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

Index normalise(const Index& axes, std::size_t rank) {
  Index out;
  for (auto a : axes) out.push_back(a < 0 ? a + static_cast<std::int64_t>(rank) : a);
  return out;
}

}  // namespace

TEST_CASE("reductions: values over every axis set, negative axes, keepdim, strided, float32") {
  const Index shape{3, 4, 5};
  const std::vector<Index> axis_sets = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {-1, 0}, {1, 2}, {0, 1, 2}, {2, 0, 1}};
  Tensor x = rnd_distinct(shp(shape), 301);
  Tensor xt = permute(rnd_distinct({5, 3, 4}, 302), {1, 2, 0});  // (3, 4, 5), non-contiguous
  REQUIRE_FALSE(xt.is_contiguous());
  for (const auto& c : cases()) {
    for (const auto& axes : axis_sets) {
      for (bool keepdim : {false, true}) {
        INFO("op " << c.name << " axes " << axes.size() << " first " << (axes.empty() ? 99 : axes[0]) << " keepdim "
                   << keepdim);
        Index norm = normalise(axes, shape.size());
        for (const Tensor& in : {x, xt}) {
          Tensor y = c.op(in, axes, keepdim);
          check_shape(y, kept_shape(shape, norm, keepdim));
          CHECK(y.dtype() == DType::float64);
          check_values(y, c.ref(in.to_vector<double>(), shape, norm), 1e-12);
        }
        Tensor x32 = cast(xt, DType::float32);
        Tensor y32 = c.op(x32, axes, keepdim);
        CHECK(y32.dtype() == DType::float32);
        check_values(y32, c.ref(x32.to_vector<double>(), shape, norm), 1e-5);
      }
    }
  }
}

TEST_CASE("reductions: large inputs (parallel and chunked paths) match the reference") {
  Tensor x = rnd({300, 257}, -1, 1, 303);
  Vec xs = x.to_vector<double>();
  check_values(sum(x), ref_sum(xs, {300, 257}, {}), 1e-10);
  check_values(sum(x, {0}), ref_sum(xs, {300, 257}, {0}), 1e-11);
  check_values(mean(x, {1}), ref_mean(xs, {300, 257}, {1}), 1e-11);
  check_values(max(transpose(x), {0}), ref_max(xs, {300, 257}, {1}), 0);
  check_values(logsumexp(x, {1}), ref_logsumexp(xs, {300, 257}, {1}), 1e-11);
  // float32 sums accumulate in float64: a million 0.1f add up to 1e5 to float32 precision
  // (a naive float32 loop drifts by about 1%).
  Tensor tenths = full({1000000}, 0.1, {DType::float32});
  const double exact = 1e6 * static_cast<double>(0.1f);
  CHECK(sum(tenths).item<double>() == static_cast<double>(static_cast<float>(exact)));
  CHECK(mean(tenths).item<double>() == static_cast<double>(static_cast<float>(exact / 1e6)));
  CHECK(sum(reshape(tenths, {1000, 1000}), {1}).to_vector<double>()[7] == static_cast<double>(static_cast<float>(exact / 1000)));
  // Deterministic: the same result every time.
  CHECK(sum(x).item<double>() == sum(contiguous(x)).item<double>());
}

TEST_CASE("reductions: int64 sum, max and min; logsumexp of large values is stable") {
  Tensor xi = i64({1, 5, -3, 7, 2, 0}, {2, 3});
  CHECK(sum(xi).item<std::int64_t>() == 12);
  CHECK(sum(xi).dtype() == DType::int64);
  CHECK(sum(xi, {0}).to_vector<std::int64_t>() == std::vector<std::int64_t>{8, 7, -3});
  CHECK(max(xi, {1}).to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 7});
  CHECK(min(xi, {-1}, true).to_vector<std::int64_t>() == std::vector<std::int64_t>{-3, 0});
  check_values(logsumexp(f64({1000, 1000}, {2})), {1000 + std::log(2.0)});
  check_values(logsumexp(f64({-1000, -1000}, {2})), {-1000 + std::log(2.0)});
  check_values(max(f64({-std::numeric_limits<double>::infinity(), -5}, {2})), {-5});
}

TEST_CASE("argmax and argmin: values, axes, keepdim, ties pick the first, int64 input") {
  Tensor x = f64({1, 9, 3, 9, 0, 5, 7, -2, 7, 4, 4, -2}, {3, 4});
  Tensor am = argmax(x, 1);
  CHECK(am.dtype() == DType::int64);
  CHECK(am.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 0});
  CHECK(argmin(x, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 3, 3});
  CHECK(argmax(x, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 0, 1, 0});
  CHECK(argmin(x, -2).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 0, 1});  // ties: first
  Tensor k = argmax(x, -1, true);
  check_shape(k, {3, 1});
  CHECK(argmax(transpose(x), 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 0});
  CHECK(argmax(cast(x, DType::float32), 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 0});
  Tensor xi = i64({3, 8, 8, -1, 2, -1}, {2, 3});
  CHECK(argmax(xi, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 1});
  CHECK(argmin(xi, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0});
  CHECK(argmin(xi, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 1, 1});
  // Against the reference on a larger strided input.
  Tensor big = transpose(rnd_distinct({37, 11}, 304));
  Vec bv = big.to_vector<double>();
  Vec mx = ref_max(bv, {11, 37}, {1});
  auto got = argmax(big, 1).to_vector<std::int64_t>();
  for (std::int64_t r = 0; r < 11; ++r) CHECK(bv[r * 37 + got[r]] == mx[r]);
  // Over a long leading axis with few columns, the rows are reduced in spans that combine
  // afterwards: ties across spans still pick the first.
  Vec tall(20000 * 3, 0.0);
  for (std::int64_t c = 0; c < 3; ++c) tall[7000 * 3 + c] = tall[15000 * 3 + c] = 1.0;
  tall[19999 * 3 + 2] = -1.0;
  Tensor t = f64(tall, {20000, 3});
  CHECK(argmax(t, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{7000, 7000, 7000});
  CHECK(argmin(t, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 19999});
  CHECK(max(t, {0}).to_vector<double>() == Vec{1, 1, 1});
  CHECK(sum(t, {0}).to_vector<double>() == Vec{2, 2, 1});
}

TEST_CASE("reductions: gradcheck orders 1 and 2, keepdim, negative axes and strided inputs") {
  Tensor x = rnd_distinct({2, 3, 4}, 305);
  for (const auto& c : cases()) {
    INFO("op " << c.name);
    auto op = c.op;
    gradcheck12([op](V v) { return op(v[0], {}, false); }, {x});
    gradcheck12([op](V v) { return op(v[0], {-1}, true) * v[0]; }, {x});  // broadcast back
    gradcheck12([op](V v) { return op(transpose(v[0], 0, 2), {0, 2}, false); }, {x});
    gradcheck12([op](V v) { return op(slice(v[0], 2, 0, 4, 2), {1}, false); }, {x});
  }
}

TEST_CASE("reductions: known gradients") {
  Tensor x = f64({1, 4, 2, 8, 3, 5}, {2, 3}).requires_grad_();
  check_values(grad(sum(max(x, {1})), x), {0, 1, 0, 1, 0, 0});
  check_values(grad(sum(min(x, {0})), x), {1, 0, 1, 0, 1, 0});
  check_values(grad(mean(x), x), Vec(6, 1.0 / 6));
  // d var / dx_i = 2 (x_i - mean) / n.
  Vec xs = x.to_vector<double>();
  Vec expect(6);
  for (int i = 0; i < 6; ++i) expect[i] = 2 * (xs[i] - 23.0 / 6) / 6;
  check_values(grad(var(x), x), expect);
  // d logsumexp = softmax.
  Tensor g = grad(sum(logsumexp(x, {1})), x);
  Vec row0{std::exp(1.0), std::exp(4.0), std::exp(2.0)};
  double z = row0[0] + row0[1] + row0[2];
  CHECK(g.to_vector<double>()[1] == Approx(row0[1] / z).epsilon(1e-12));
}
