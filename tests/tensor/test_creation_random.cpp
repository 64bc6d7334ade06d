// Creation and random numbers: filled tensors, ranges, identity, host data in every dtype,
// Philox known answers, uniform/normal statistics, reproducibility per seed, offset and thread
// count, randperm; and the in-place writes (fill_, copy_) that optimisers use.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "helpers.hpp"

using namespace mttt;
using namespace test;

namespace {
double mean_of(const Vec& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); }
double var_of(const Vec& v) {
  double m = mean_of(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size());
}
}  // namespace

TEST_CASE("zeros, ones, full, scalar and the _like variants") {
  for (DType dtype : {DType::float32, DType::float64, DType::int64}) {
    INFO("dtype " << to_string(dtype));
    Tensor z = zeros({2, 3}, {dtype});
    CHECK(z.dtype() == dtype);
    CHECK(z.is_contiguous());
    check_shape(z, {2, 3});
    CHECK(z.to_vector<double>() == Vec(6, 0.0));
    CHECK(ones({4}, {dtype}).to_vector<double>() == Vec(4, 1.0));
    CHECK(full({2, 2}, 7, {dtype}).to_vector<double>() == Vec(4, 7.0));
    Tensor s = scalar(3, {dtype});
    CHECK(s.rank() == 0);
    CHECK(s.item<double>() == 3);
    CHECK(zeros_like(full({3}, 2, {dtype})).dtype() == dtype);
    CHECK(ones_like(z).to_vector<double>() == Vec(6, 1.0));
    CHECK(full_like(z, -2).to_vector<double>() == Vec(6, -2.0));
    check_shape(full_like(z, -2), {2, 3});
  }
  CHECK(full({2}, 0.1, {DType::float32}).to_vector<float>() == std::vector<float>{0.1f, 0.1f});
  CHECK(zeros({}).numel() == 1);
  CHECK(zeros({3, 0}).numel() == 0);
  CHECK(zeros({2}).dtype() == DType::float32);  // the default
  CHECK_FALSE(zeros({2}).requires_grad());
}

TEST_CASE("arange: steps, negative steps, empty ranges, dtypes") {
  CHECK(arange(5).to_vector<double>() == Vec{0, 1, 2, 3, 4});
  CHECK(arange(2, 4, 0.5, {DType::float64}).to_vector<double>() == Vec{2, 2.5, 3, 3.5});
  CHECK(arange(5, 0, -2, {DType::float64}).to_vector<double>() == Vec{5, 3, 1});
  CHECK(arange(3, 3, 1).numel() == 0);
  CHECK(arange(3, 1, 1).numel() == 0);
  Tensor i = arange(-2, 3, 1, {DType::int64});
  CHECK(i.dtype() == DType::int64);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{-2, -1, 0, 1, 2});
  // The count rounds up: [0, 1) in steps of 0.3 has 4 elements.
  check_values(arange(0, 1, 0.3, {DType::float64}), {0, 0.3, 0.6, 0.9}, 1e-15);
}

TEST_CASE("eye") {
  CHECK(eye(3, {DType::float64}).to_vector<double>() == Vec{1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(eye(2, {DType::int64}).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 0, 1});
  check_shape(eye(0), {0, 0});
  check_shape(eye(1), {1, 1});
}

TEST_CASE("from_vector: every host type into every dtype, row-major") {
  Tensor d = from_vector(Vec{1.5, -2.25, 3.1}, {3}, {DType::float64});
  CHECK(d.to_vector<double>() == Vec{1.5, -2.25, 3.1});
  Tensor f = from_vector(Vec{1.5, -2.25, 3.1}, {3}, {DType::float32});
  CHECK(f.to_vector<float>() == std::vector<float>{1.5f, -2.25f, 3.1f});
  Tensor ff = from_vector(std::vector<float>{0.5f, 2.0f}, {2, 1});
  CHECK(ff.dtype() == DType::float32);
  check_shape(ff, {2, 1});
  Tensor i = from_vector(std::vector<std::int64_t>{4, -5, 6, 7}, {2, 2});
  CHECK(i.dtype() == DType::int64);
  CHECK(i.to_vector<double>() == Vec{4, -5, 6, 7});
  CHECK(from_vector(std::vector<std::int64_t>{4, -5}, {2}, {DType::float64}).to_vector<double>() == Vec{4, -5});
  // Into int64, floating values truncate toward zero.
  CHECK(from_vector(Vec{1.9, -1.9}, {2}, {DType::int64}).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -1});
  Tensor m = from_vector(Vec{1, 2, 3, 4, 5, 6}, {2, 3}, {DType::float64});
  CHECK(select(m, 0, 1).to_vector<double>() == Vec{4, 5, 6});
  CHECK(from_vector(Vec{}, {0}).numel() == 0);
  CHECK(from_vector(Vec{2.5}, {}, {DType::float64}).item<double>() == 2.5);
}

TEST_CASE("Philox-4x32-10 matches the Random123 known-answer vectors") {
  auto zero = philox4x32({0, 0, 0, 0}, {0, 0});
  CHECK(zero == std::array<std::uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  auto ones = philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  CHECK(ones == std::array<std::uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  auto pi = philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u});
  CHECK(pi == std::array<std::uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("uniform: range, moments, float32 and float64") {
  for (DType dtype : {DType::float32, DType::float64}) {
    INFO("dtype " << to_string(dtype));
    Generator gen(7);
    const std::int64_t n = 20000;
    Tensor u = uniform({n}, -2, 3, {dtype}, &gen);
    CHECK(u.dtype() == dtype);
    Vec v = u.to_vector<double>();
    CHECK(*std::min_element(v.begin(), v.end()) >= -2);
    CHECK(*std::max_element(v.begin(), v.end()) < 3);
    // Mean 0.5 and variance 25 / 12, within about five standard errors.
    CHECK(std::abs(mean_of(v) - 0.5) < 5 * std::sqrt(25.0 / 12 / n));
    CHECK(std::abs(var_of(v) - 25.0 / 12) < 0.05 * 25.0 / 12);
    // Every tenth of the range gets its share (a coarse histogram).
    std::vector<int> bins(10, 0);
    for (double x : v) ++bins[std::min(9, static_cast<int>((x + 2) / 0.5))];
    for (int b : bins) CHECK(std::abs(b - n / 10) < 5 * std::sqrt(n / 10.0));
  }
}

TEST_CASE("normal: moments and tails") {
  for (DType dtype : {DType::float32, DType::float64}) {
    INFO("dtype " << to_string(dtype));
    Generator gen(8);
    const std::int64_t n = 20000;
    Vec v = normal({n}, 1.5, 2.0, {dtype}, &gen).to_vector<double>();
    CHECK(std::abs(mean_of(v) - 1.5) < 5 * 2.0 / std::sqrt(n));
    CHECK(std::abs(std::sqrt(var_of(v)) - 2.0) < 0.05);
    // About 68.3% within one standard deviation.
    double within = static_cast<double>(std::count_if(v.begin(), v.end(), [](double x) { return std::abs(x - 1.5) < 2; }));
    CHECK(std::abs(within / n - 0.6827) < 0.02);
    for (double x : v) REQUIRE(std::isfinite(x));
  }
}

TEST_CASE("random tensors: reproducible per seed, consecutive draws continue the stream") {
  Generator a(123), b(123), c(124);
  Tensor x = uniform({50}, 0, 1, {DType::float64}, &a);
  CHECK(x.to_vector<double>() == uniform({50}, 0, 1, {DType::float64}, &b).to_vector<double>());
  CHECK(x.to_vector<double>() != uniform({50}, 0, 1, {DType::float64}, &c).to_vector<double>());
  CHECK(a.offset() == 50);

  // Element i is a function of (seed, offset + i): two draws of n equal one draw of 2n.
  Generator g1(5), g2(5);
  Tensor first = normal({3, 4}, 0, 1, {DType::float64}, &g1);
  Tensor second = normal({3, 4}, 0, 1, {DType::float64}, &g1);
  Tensor both = normal({24}, 0, 1, {DType::float64}, &g2);
  CHECK(concat({reshape(first, {12}), reshape(second, {12})}).to_vector<double>() == both.to_vector<double>());
  CHECK(first.to_vector<double>() != second.to_vector<double>());

  // manual_seed rewinds a generator; the default generator is reseeded the same way.
  g1.manual_seed(5);
  CHECK(normal({3, 4}, 0, 1, {DType::float64}, &g1).to_vector<double>() == first.to_vector<double>());
  manual_seed(99);
  Vec d1 = rand({8}, {DType::float64}).to_vector<double>();
  manual_seed(99);
  CHECK(rand({8}, {DType::float64}).to_vector<double>() == d1);
  // randn is the default generator's standard normal.
  manual_seed(99);
  Generator g99(99);
  CHECK(randn({8}, {DType::float64}).to_vector<double>() == normal({8}, 0, 1, {DType::float64}, &g99).to_vector<double>());
}

TEST_CASE("random tensors do not depend on the thread count") {
  const int threads = num_threads();
  const std::int64_t n = 100000;  // above the parallel threshold
  set_num_threads(1);
  Generator g1(11);
  Vec u1 = uniform({n}, 0, 1, {DType::float32}, &g1).to_vector<double>();
  Vec n1 = normal({n}, 0, 1, {DType::float64}, &g1).to_vector<double>();
  set_num_threads(2);
  Generator g2(11);
  Vec u2 = uniform({n}, 0, 1, {DType::float32}, &g2).to_vector<double>();
  Vec n2 = normal({n}, 0, 1, {DType::float64}, &g2).to_vector<double>();
  set_num_threads(threads);
  CHECK(u1 == u2);
  CHECK(n1 == n2);
}

TEST_CASE("randperm: a permutation, reproducible per seed") {
  Generator g(3);
  auto p = randperm(50, &g).to_vector<std::int64_t>();
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> ramp(50);
  std::iota(ramp.begin(), ramp.end(), 0);
  CHECK(sorted == ramp);
  CHECK(p != ramp);
  Generator g_again(3);
  CHECK(randperm(50, &g_again).to_vector<std::int64_t>() == p);
  CHECK(randperm(50, &g).to_vector<std::int64_t>() != p);  // the generator moved on
  CHECK(randperm(0, &g).numel() == 0);
  CHECK(randperm(1, &g).to_vector<std::int64_t>() == std::vector<std::int64_t>{0});
  CHECK(randperm(5, &g).dtype() == DType::int64);
  // Each position takes each value about equally often.
  std::vector<int> at_zero(4, 0);
  for (int i = 0; i < 4000; ++i) ++at_zero[randperm(4, &g).to_vector<std::int64_t>()[0]];
  for (int c : at_zero) CHECK(std::abs(c - 1000) < 5 * std::sqrt(1000.0 * 0.75));
}

TEST_CASE("fill_ and copy_: in place, through views, with broadcasting and dtype conversion") {
  Tensor t = zeros({3, 4}, {DType::float64});
  fill_(slice(t, 1, 1, 4, 2), 5);
  CHECK(t.to_vector<double>() == Vec{0, 5, 0, 5, 0, 5, 0, 5, 0, 5, 0, 5});
  copy_(select(t, 0, 2), from_vector(Vec{1, 2, 3, 4}, {4}, {DType::float64}));
  CHECK(select(t, 0, 2).to_vector<double>() == Vec{1, 2, 3, 4});
  // A broadcast float32 source into a transposed float64 destination.
  copy_(transpose(t), from_vector(std::vector<float>{-1, -2, -3}, {1, 3}));
  CHECK(t.to_vector<double>() == Vec{-1, -1, -1, -1, -2, -2, -2, -2, -3, -3, -3, -3});
  Tensor i = zeros({2}, {DType::int64});
  copy_(i, from_vector(Vec{2.7, -3.2}, {2}, {DType::float64}));
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{2, -3});
}
