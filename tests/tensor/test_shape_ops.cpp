// Shape and layout ops: values against index arithmetic, views vs copies, negative axes,
// Python-like slice clamping, and gradcheck orders 1-2 (on strided inputs too).
#include "helpers.hpp"

using namespace mttt;
using namespace test;

namespace {
// Values 0, 1, 2, ... as float64.
Tensor ramp(const Index& shape) { return reshape(arange(0, static_cast<double>(count(shape)), 1, {DType::float64}), shp(shape)); }
}  // namespace

TEST_CASE("reshape: views when contiguous, copies otherwise, -1 inferred") {
  Tensor x = ramp({2, 3, 4});
  Tensor r = reshape(x, {4, -1});
  check_shape(r, {4, 6});
  CHECK(r.storage() == x.storage());
  check_values(r, x.to_vector<double>());
  check_shape(reshape(x, {-1}), {24});
  check_shape(reshape(x, {2, 1, 3, 4}), {2, 1, 3, 4});
  check_shape(reshape(f64({5}, {1}), {}), {});
  // A transposed tensor is copied in its logical order.
  Tensor t = transpose(x, 0, 2);  // (4, 3, 2)
  Tensor rt = reshape(t, {12, 2});
  check_values(rt, t.to_vector<double>());
  check_shape(flatten(x), {24});
  check_shape(flatten(x, 1), {2, 12});
  check_shape(flatten(x, 0, 1), {6, 4});
  check_shape(flatten(x, -2, -1), {2, 12});
  check_values(flatten(t, 1), t.to_vector<double>());
}

TEST_CASE("permute and transpose: values by index, negative axes, views") {
  Tensor x = ramp({2, 3, 4});
  Vec xs = x.to_vector<double>();
  Tensor p = permute(x, {2, 0, 1});
  check_shape(p, {4, 2, 3});
  CHECK(p.storage() == x.storage());
  Vec pv = p.to_vector<double>();
  for (std::int64_t i = 0; i < 24; ++i) {
    Index at = unravel(i, {4, 2, 3});  // (k, i, j) -> x[i][j][k]
    CHECK(pv[i] == xs[ravel({at[1], at[2], at[0]}, {2, 3, 4})]);
  }
  check_same(permute(x, {-1, 0, -2}), p, 0);
  Tensor t = transpose(x);  // last two
  check_shape(t, {2, 4, 3});
  CHECK_FALSE(t.is_contiguous());
  Vec tv = t.to_vector<double>();
  for (std::int64_t i = 0; i < 24; ++i) {
    Index at = unravel(i, {2, 4, 3});
    CHECK(tv[i] == xs[ravel({at[0], at[2], at[1]}, {2, 3, 4})]);
  }
  check_same(transpose(x, 0, -1), permute(x, {2, 1, 0}), 0);
  check_same(transpose(transpose(x)), x, 0);
}

TEST_CASE("slice and select: steps, negative and clamped bounds") {
  Tensor x = ramp({4, 6});
  check_values(slice(x, 1, 1, 5, 2), {1, 3, 7, 9, 13, 15, 19, 21});
  check_values(slice(x, 0, -2, 100), {12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
  check_values(slice(x, -1, -3, -1), {3, 4, 9, 10, 15, 16, 21, 22});
  check_shape(slice(x, 1, 4, 2), {4, 0});
  check_shape(slice(x, 0, -100, 2), {2, 6});
  Tensor s = slice(x, 1, 0, 6, 3);
  CHECK(s.storage() == x.storage());
  CHECK_FALSE(s.is_contiguous());
  check_values(select(x, 0, 2), {12, 13, 14, 15, 16, 17});
  check_values(select(x, 1, -1), {5, 11, 17, 23});
  check_shape(select(x, 1, 0), {4});
  // Slicing a slice composes offsets and strides.
  check_values(slice(slice(x, 1, 1, 6), 0, 1, 4, 2), {7, 8, 9, 10, 11, 19, 20, 21, 22, 23});
  check_values(select(transpose(x), 0, 3), {3, 9, 15, 21});
}

TEST_CASE("expand, squeeze, unsqueeze, contiguous") {
  Tensor x = f64({1, 2, 3}, {3, 1});
  Tensor e = expand(x, {2, 3, 4});
  check_shape(e, {2, 3, 4});
  CHECK(e.storage() == x.storage());
  Vec ev = e.to_vector<double>();
  for (std::int64_t i = 0; i < 24; ++i) CHECK(ev[i] == 1 + static_cast<double>(unravel(i, {2, 3, 4})[1]));
  Tensor c = contiguous(e);
  CHECK(c.is_contiguous());
  CHECK(c.storage() != x.storage());
  check_values(c, ev);
  Tensor y = ramp({2, 3});
  CHECK(contiguous(y).is_same(y));
  check_shape(unsqueeze(y, 0), {1, 2, 3});
  check_shape(unsqueeze(y, -1), {2, 3, 1});
  check_shape(unsqueeze(y, 1), {2, 1, 3});
  check_shape(squeeze(x, 1), {3});
  check_shape(squeeze(x, -1), {3});
  check_shape(squeeze(unsqueeze(y, 1), 1), {2, 3});
  check_values(unsqueeze(transpose(y), 1), transpose(y).to_vector<double>());
  // int64 views.
  Tensor xi = i64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(transpose(xi).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 4, 2, 5, 3, 6});
  CHECK(contiguous(slice(xi, 1, 0, 3, 2)).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 3, 4, 6});
  CHECK(expand(i64({7}, {1}), {3}).to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 7, 7});
}

TEST_CASE("sum_to: the adjoint of broadcasting") {
  Tensor x = ramp({2, 3, 4});
  Vec xs = x.to_vector<double>();
  check_values(sum_to(x, {3, 4}), ref_reduce(xs, {2, 3, 4}, {0}, 0, std::plus<>()));
  Tensor k = sum_to(x, {3, 1});
  check_shape(k, {3, 1});
  check_values(k, ref_reduce(xs, {2, 3, 4}, {0, 2}, 0, std::plus<>()));
  check_values(sum_to(x, {1, 1, 4}), ref_reduce(xs, {2, 3, 4}, {0, 1}, 0, std::plus<>()));
  check_values(sum_to(x, {}), {276});
  check_same(sum_to(x, {2, 3, 4}), x, 0);
  check_values(sum_to(transpose(x), {4, 1}), ref_reduce(transpose(x).to_vector<double>(), {2, 4, 3}, {0, 2}, 0,
                                                        std::plus<>()));
}

TEST_CASE("shape ops: float32 views keep dtype and values") {
  Tensor x = cast(ramp({2, 3}), DType::float32);
  CHECK(transpose(x).dtype() == DType::float32);
  check_values(transpose(x), {0, 3, 1, 4, 2, 5}, 0);
  check_values(reshape(transpose(x), {3, 2}), {0, 3, 1, 4, 2, 5}, 0);
  check_values(slice(x, 1, 1, 3), {1, 2, 4, 5}, 0);
}

TEST_CASE("shape ops: gradcheck orders 1 and 2") {
  using V = const std::vector<Tensor>&;
  Tensor x = rnd({2, 3, 4}, -1, 1, 201);
  // Each composed with a nonlinearity so that second derivatives are non-trivial.
  gradcheck12([](V v) { return square(reshape(v[0], {4, -1})); }, {x});
  gradcheck12([](V v) { return square(reshape(transpose(v[0]), {-1, 3})); }, {x});  // copy path
  gradcheck12([](V v) { return square(flatten(v[0], 1)); }, {x});
  gradcheck12([](V v) { return square(permute(v[0], {2, 0, 1})) * ramp({4, 2, 3}); }, {x});
  gradcheck12([](V v) { return square(transpose(v[0], 0, -1)) * ramp({4, 3, 2}); }, {x});
  gradcheck12([](V v) { return square(slice(v[0], 2, 1, 4, 2)); }, {x});
  gradcheck12([](V v) { return square(slice(transpose(v[0]), 1, -3, -1)); }, {x});
  gradcheck12([](V v) { return square(select(v[0], 1, -1)); }, {x});
  gradcheck12([](V v) { return square(select(transpose(v[0]), 1, 2)); }, {x});
  gradcheck12([](V v) { return square(expand(v[0], {2, 3, 4})) * ramp({2, 3, 4}); }, {rnd({3, 1}, -1, 1, 202)});
  gradcheck12([](V v) { return square(expand(transpose(v[0]), {2, 4, 3})) * ramp({2, 4, 3}); },
              {rnd({3, 4}, -1, 1, 203)});
  gradcheck12([](V v) { return square(squeeze(v[0], -2)); }, {rnd({3, 1, 2}, -1, 1, 204)});
  gradcheck12([](V v) { return square(unsqueeze(transpose(v[0]), 1)); }, {rnd({3, 2}, -1, 1, 205)});
  gradcheck12([](V v) { return square(contiguous(transpose(v[0]))) * ramp({4, 3}); }, {rnd({3, 4}, -1, 1, 206)});
  gradcheck12([](V v) { return square(sum_to(v[0], {3, 1})); }, {x});
  gradcheck12([](V v) { return square(sum_to(transpose(v[0]), {1, 3})); }, {x});
}

TEST_CASE("shape op gradients have the input's shape and values") {
  Tensor x = ramp({2, 3}).requires_grad_();
  Tensor w = ramp({3, 2});
  Tensor g = grad(sum(transpose(x) * w), x);
  check_shape(g, {2, 3});
  check_values(g, transpose(w).to_vector<double>());
  Tensor s = grad(sum(slice(x, 1, 0, 3, 2)), x);
  check_values(s, {1, 0, 1, 1, 0, 1});
  Tensor e = grad(sum(expand(unsqueeze(x, 0), {4, 2, 3})), x);
  check_values(e, {4, 4, 4, 4, 4, 4});
}
