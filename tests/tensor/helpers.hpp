// Shared helpers of the per-op tests: random float64 tensors, naive host references over
// row-major index arithmetic (broadcasting, reductions), value comparison and gradcheck macros.
#pragma once

// GCC 12.2 (Debian 12) at -O3 -march=native (AVX-512) miscompiles some vector constants in the
// test bodies: a std::vector<int64_t>{1, 1, 0, 0} came out as {1, 1, 1, 1} (a broadcast), while
// -O2, -mno-avx512f or -fno-tree-slp-vectorize give the right code and AddressSanitizer finds
// nothing. The tests' own code is therefore compiled without SLP vectorization.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC optimize("no-tree-slp-vectorize")
#endif

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/gradcheck.hpp"
#include "tensor/tensor.hpp"

namespace test {

using mttt::DType;
using mttt::Shape;
using mttt::Tensor;
using Vec = std::vector<double>;
using Index = std::vector<std::int64_t>;

inline std::int64_t count(const Index& shape) {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

inline Shape shp(const Index& v) { return Shape(v); }
inline Index idx(const Shape& s) { return s.vec(); }

// Uniform float64 values in [lo, hi), reproducible per seed.
inline Tensor rnd(const Shape& shape, double lo = -1, double hi = 1, std::uint64_t seed = 1) {
  mttt::Generator gen(seed);
  return mttt::uniform(shape, lo, hi, {DType::float64}, &gen);
}
// Same, but every element at least `gap` away from zero (for kinks at 0).
inline Tensor rnd_away(const Shape& shape, double gap = 0.2, std::uint64_t seed = 1) {
  Vec v = rnd(shape, -1, 1, seed).to_vector<double>();
  for (double& x : v) x = x >= 0 ? gap + x : -gap + x;
  return mttt::from_vector(v, shape, {DType::float64});
}
// Distinct values (a shuffled ramp with spacing 0.1), no ties for max/min/sort.
inline Tensor rnd_distinct(const Shape& shape, std::uint64_t seed = 1) {
  std::int64_t n = mttt::numel(shape);
  mttt::Generator gen(seed);
  auto perm = mttt::randperm(n, &gen).to_vector<std::int64_t>();
  Vec v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = 0.1 * static_cast<double>(perm[i]) - 0.05 * static_cast<double>(n);
  return mttt::from_vector(v, shape, {DType::float64});
}
inline Tensor f64(const Vec& v, const Index& shape) { return mttt::from_vector(v, Shape(shape), {DType::float64}); }
inline Tensor f32(const Vec& v, const Index& shape) { return mttt::from_vector(v, Shape(shape), {DType::float32}); }
inline Tensor i64(const std::vector<std::int64_t>& v, const Index& shape) { return mttt::from_vector(v, Shape(shape)); }

// Row-major multi-index <-> flat index.
inline Index unravel(std::int64_t flat, const Index& shape) {
  Index out(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    out[d] = flat % shape[d];
    flat /= shape[d];
  }
  return out;
}
inline std::int64_t ravel(const Index& at, const Index& shape) {
  std::int64_t flat = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + at[d];
  return flat;
}

inline Index broadcast_shape(const Index& a, const Index& b) {
  std::size_t r = std::max(a.size(), b.size());
  Index out(r);
  for (std::size_t i = 0; i < r; ++i) {
    std::int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    std::int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    out[i] = da == 1 ? db : da;
  }
  return out;
}
// The flat index in `shape` of the element that broadcasts to `at` of the output.
inline std::int64_t broadcast_source(const Index& at, const Index& shape) {
  std::size_t off = at.size() - shape.size();
  Index src(shape.size());
  for (std::size_t d = 0; d < shape.size(); ++d) src[d] = shape[d] == 1 ? 0 : at[d + off];
  return ravel(src, shape);
}

// Naive broadcasting binary op on host values.
inline Vec ref_binary(const Vec& a, const Index& as, const Vec& b, const Index& bs,
                      const std::function<double(double, double)>& op) {
  Index os = broadcast_shape(as, bs);
  Vec out(count(os));
  for (std::int64_t i = 0; i < count(os); ++i) {
    Index at = unravel(i, os);
    out[i] = op(a[broadcast_source(at, as)], b[broadcast_source(at, bs)]);
  }
  return out;
}
inline Vec ref_unary(const Vec& a, const std::function<double(double)>& op) {
  Vec out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = op(a[i]);
  return out;
}

// Naive reduction over `axes` (non-negative, any order) with a fold (init, combine), result
// in keepdim=false layout; `finish(acc, n)` post-processes (mean).
inline Vec ref_reduce(const Vec& x, const Index& shape, const Index& axes, double init,
                      const std::function<double(double, double)>& combine,
                      const std::function<double(double, std::int64_t)>& finish = nullptr) {
  std::vector<bool> reduced(shape.size(), axes.empty());
  for (auto a : axes) reduced[a] = true;
  Index os;
  std::int64_t n = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (!reduced[d]) os.push_back(shape[d]);
    else n *= shape[d];
  }
  Vec out(count(os), init);
  for (std::int64_t i = 0; i < count(shape); ++i) {
    Index at = unravel(i, shape), o;
    for (std::size_t d = 0; d < shape.size(); ++d)
      if (!reduced[d]) o.push_back(at[d]);
    double& acc = out[ravel(o, os)];
    acc = combine(acc, x[i]);
  }
  if (finish)
    for (double& v : out) v = finish(v, n);
  return out;
}

// Elements of a (possibly strided) tensor's values vs expected, with a relative+absolute tolerance.
inline void check_values(const Tensor& t, const Vec& expected, double tol = 1e-12) {
  Vec got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", expected " << expected[i]);
    if (std::isnan(expected[i])) {
      CHECK(std::isnan(got[i]));
    } else if (std::isinf(expected[i])) {
      CHECK(got[i] == expected[i]);
    } else {
      CHECK(std::abs(got[i] - expected[i]) <= tol * (1 + std::abs(expected[i])));
    }
  }
}
inline void check_shape(const Tensor& t, const Index& expected) { CHECK(t.shape().vec() == expected); }

inline void check_same(const Tensor& a, const Tensor& b, double tol = 1e-12) {
  REQUIRE(a.shape() == b.shape());
  check_values(a, b.to_vector<double>(), tol);
}

}  // namespace test

namespace test {
// gradcheck at each of `orders`; the first mismatch is printed on failure.
inline void gradcheck_orders(const mttt::TensorFunction& f, const std::vector<Tensor>& inputs,
                             std::initializer_list<int> orders, double rtol = 1e-5, double atol = 1e-7) {
  for (int order : orders) {
    mttt::GradcheckResult r = mttt::gradcheck(f, inputs, {.order = order, .atol = atol, .rtol = rtol});
    INFO("gradcheck order " << order << ": " << r.message);
    CHECK(r.ok);
  }
}
inline void gradcheck12(const mttt::TensorFunction& f, const std::vector<Tensor>& inputs) {
  gradcheck_orders(f, inputs, {1, 2});
}
inline void gradcheck123(const mttt::TensorFunction& f, const std::vector<Tensor>& inputs) {
  gradcheck_orders(f, inputs, {1, 2, 3});
}
}  // namespace test
