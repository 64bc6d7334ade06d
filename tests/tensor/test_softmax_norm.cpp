// softmax, log_softmax and layer_norm: values against host references (any axis, strided inputs,
// float32, large logits), gradcheck orders 1-2, and order 3 for softmax and layer_norm.
#include <cmath>

#include "helpers.hpp"

using namespace mttt;
using namespace test;

namespace {

using V = const std::vector<Tensor>&;

// Softmax (or log-softmax) along `axis` of a row-major tensor.
Vec ref_softmax(const Vec& x, const Index& shape, std::int64_t axis, bool log_space) {
  Vec out(x.size());
  std::int64_t n = shape[axis], inner = 1;
  for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  std::int64_t outer = count(shape) / (n * inner);
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t i = 0; i < inner; ++i) {
      auto at = [&](std::int64_t j) { return (o * n + j) * inner + i; };
      double m = -INFINITY;
      for (std::int64_t j = 0; j < n; ++j) m = std::max(m, x[at(j)]);
      double z = 0;
      for (std::int64_t j = 0; j < n; ++j) z += std::exp(x[at(j)] - m);
      for (std::int64_t j = 0; j < n; ++j)
        out[at(j)] = log_space ? x[at(j)] - m - std::log(z) : std::exp(x[at(j)] - m) / z;
    }
  return out;
}

Vec ref_layer_norm(const Vec& x, std::int64_t d, const Vec& scale, const Vec& bias, double eps) {
  Vec out(x.size());
  for (std::size_t r = 0; r < x.size() / d; ++r) {
    double m = 0, v = 0;
    for (std::int64_t j = 0; j < d; ++j) m += x[r * d + j];
    m /= static_cast<double>(d);
    for (std::int64_t j = 0; j < d; ++j) v += (x[r * d + j] - m) * (x[r * d + j] - m);
    v /= static_cast<double>(d);
    for (std::int64_t j = 0; j < d; ++j) {
      double y = (x[r * d + j] - m) / std::sqrt(v + eps);
      out[r * d + j] = y * (scale.empty() ? 1.0 : scale[j]) + (bias.empty() ? 0.0 : bias[j]);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("softmax and log_softmax: values along every axis, strided, float32") {
  const Index shape{3, 4, 5};
  Tensor x = rnd(shp(shape), -3, 3, 500);
  Tensor xt = permute(rnd({5, 3, 4}, -3, 3, 501), {1, 2, 0});
  for (std::int64_t axis : {0, 1, 2, -1, -3}) {
    std::int64_t a = axis < 0 ? axis + 3 : axis;
    INFO("axis " << axis);
    for (const Tensor& in : {x, xt}) {
      Vec xs = in.to_vector<double>();
      Tensor s = softmax(in, axis);
      check_shape(s, shape);
      check_values(s, ref_softmax(xs, shape, a, false), 1e-13);
      check_values(log_softmax(in, axis), ref_softmax(xs, shape, a, true), 1e-13);
    }
    Tensor x32 = cast(xt, DType::float32);
    CHECK(softmax(x32, axis).dtype() == DType::float32);
    check_values(softmax(x32, axis), ref_softmax(x32.to_vector<double>(), shape, a, false), 2e-6);
    check_values(log_softmax(x32, axis), ref_softmax(x32.to_vector<double>(), shape, a, true), 2e-6);
  }
  // Rows sum to one; large logits stay finite; a big input takes the parallel path.
  Tensor big = rnd({200, 300}, -50, 50, 502);
  check_values(sum(softmax(big), {-1}), Vec(200, 1.0), 1e-13);
  check_values(softmax(f64({1000, 1000, -1000}, {3})), {0.5, 0.5, 0});
  check_values(log_softmax(f64({1000, 0}, {2})), {0, -1000});
  check_values(softmax(transpose(big), 0), ref_softmax(transpose(big).to_vector<double>(), {300, 200}, 0, false),
               1e-12);
  check_values(softmax(f64({2}, {1})), {1});
}

TEST_CASE("softmax and log_softmax: gradcheck orders 1-2, order 3 for softmax") {
  Tensor x = rnd({3, 4}, -2, 2, 510);
  gradcheck123([](V v) { return softmax(v[0]); }, {x});
  gradcheck123([](V v) { return softmax(transpose(v[0]), 0); }, {x});  // strided, axis 0
  gradcheck12([](V v) { return log_softmax(v[0], -1); }, {x});
  gradcheck12([](V v) { return log_softmax(slice(v[0], 1, 0, 4, 2), 0); }, {x});
  gradcheck12([](V v) { return softmax(v[0], 1); }, {rnd({2, 3, 2}, -2, 2, 511)});
  gradcheck12([](V v) { return log_softmax(permute(v[0], {2, 0, 1}), 2); }, {rnd({2, 3, 2}, -2, 2, 512)});
  // Composed with a broadcast input.
  gradcheck12([](V v) { return softmax(v[0] + v[1]); }, {rnd({3, 1}, -2, 2, 513), rnd({4}, -2, 2, 514)});
}

TEST_CASE("softmax: known first derivative") {
  // d softmax_i / dx_j = s_i (delta_ij - s_j); with seed e_0: s_0 (delta_0j - s_j).
  Tensor x = f64({0.1, 0.7, -0.4}, {3}).requires_grad_();
  Tensor s = softmax(x);
  Vec sv = s.to_vector<double>();
  Tensor g = grad({s}, {x}, {f64({1, 0, 0}, {3})})[0];
  check_values(g, {sv[0] * (1 - sv[0]), -sv[0] * sv[1], -sv[0] * sv[2]});
  // d log_softmax . ones = 1 - n softmax.
  Tensor gl = grad(sum(log_softmax(x)), x);
  check_values(gl, {1 - 3 * sv[0], 1 - 3 * sv[1], 1 - 3 * sv[2]});
}

TEST_CASE("layer_norm: values with and without scale/bias, strided, float32") {
  Tensor x = rnd({4, 6}, -2, 2, 520);
  Tensor scale = rnd({6}, 0.5, 1.5, 521), bias = rnd({6}, -1, 1, 522);
  Vec sv = scale.to_vector<double>(), bv = bias.to_vector<double>();
  for (double eps : {1e-6, 1e-2}) {
    INFO("eps " << eps);
    check_values(layer_norm(x, scale, bias, eps), ref_layer_norm(x.to_vector<double>(), 6, sv, bv, eps), 1e-12);
    check_values(layer_norm(x, Tensor(), Tensor(), eps), ref_layer_norm(x.to_vector<double>(), 6, {}, {}, eps), 1e-12);
    check_values(layer_norm(x, scale, Tensor(), eps), ref_layer_norm(x.to_vector<double>(), 6, sv, {}, eps), 1e-12);
    check_values(layer_norm(x, Tensor(), bias, eps), ref_layer_norm(x.to_vector<double>(), 6, {}, bv, eps), 1e-12);
  }
  check_values(layer_norm(x, scale, bias), ref_layer_norm(x.to_vector<double>(), 6, sv, bv, 1e-6), 1e-12);
  // Strided input (a transposed view), rank 3, and a sliced scale.
  Tensor xt = transpose(rnd({5, 3}, -2, 2, 523));
  check_values(layer_norm(xt, Tensor(), Tensor()), ref_layer_norm(xt.to_vector<double>(), 5, {}, {}, 1e-6), 1e-12);
  Tensor x3 = rnd({2, 3, 4}, -2, 2, 524);
  Tensor s4 = slice(rnd({8}, 0.5, 1.5, 525), 0, 0, 8, 2);
  check_values(layer_norm(x3, s4, Tensor(), 1e-5),
               ref_layer_norm(x3.to_vector<double>(), 4, s4.to_vector<double>(), {}, 1e-5), 1e-12);
  // float32.
  Tensor x32 = cast(x, DType::float32);
  Tensor y32 = layer_norm(x32, cast(scale, DType::float32), cast(bias, DType::float32), 1e-5);
  CHECK(y32.dtype() == DType::float32);
  check_values(y32,
               ref_layer_norm(x32.to_vector<double>(), 6, cast(scale, DType::float32).to_vector<double>(),
                              cast(bias, DType::float32).to_vector<double>(), 1e-5),
               1e-5);
  // Normalised rows: mean 0 and biased variance 1 (up to eps); a large input.
  Tensor big = rnd({300, 130}, -5, 5, 526);
  Tensor yb = layer_norm(big, Tensor(), Tensor(), 0);
  check_values(mean(yb, {-1}), Vec(300, 0.0), 1e-13);
  check_values(var(yb, {-1}), Vec(300, 1.0), 1e-12);
}

TEST_CASE("layer_norm: gradcheck orders 1-3 with scale and bias, strided, broadcast") {
  Tensor x = rnd({3, 4}, -2, 2, 530);
  Tensor scale = rnd({4}, 0.5, 1.5, 531), bias = rnd({4}, -1, 1, 532);
  gradcheck123([](V v) { return layer_norm(v[0], v[1], v[2], 1e-3); }, {x, scale, bias});
  gradcheck123([](V v) { return layer_norm(v[0], Tensor(), Tensor(), 1e-3); }, {x});
  gradcheck12([](V v) { return layer_norm(transpose(v[0]), v[1], Tensor(), 1e-3); }, {rnd({4, 3}, -2, 2, 533), rnd({4}, 0.5, 1.5, 534)});
  gradcheck12([](V v) { return layer_norm(expand(v[0], {2, 3, 5}) * v[1], Tensor(), v[2], 1e-3); },
              {rnd({3, 1}, -1, 1, 535), rnd({5}, -2, 2, 536), rnd({5}, -1, 1, 537)});
}

TEST_CASE("layer_norm: the gradient of the normalised output is orthogonal to ones and x") {
  // sum_j y_j = 0 whatever x, so d/dx sum(y) = 0 (no scale, no bias).
  Tensor x = rnd({2, 5}, -1, 1, 540).requires_grad_();
  check_values(grad(sum(layer_norm(x, Tensor(), Tensor(), 1e-6)), x), Vec(10, 0.0), 1e-9);
  // The bias gradient is the column sum of the seed; the scale gradient sums seed * x_hat.
  Tensor scale = ones({5}, {DType::float64}).requires_grad_();
  Tensor bias = zeros({5}, {DType::float64}).requires_grad_();
  Tensor seed = rnd({2, 5}, -1, 1, 541);
  Tensor y = layer_norm(x, scale, bias, 1e-6);
  auto gs = grad({y}, {scale, bias}, {seed});
  check_values(gs[1], sum(seed, {0}).to_vector<double>());
  Tensor xhat = layer_norm(x.detach(), Tensor(), Tensor(), 1e-6);
  check_values(gs[0], sum(seed * xhat, {0}).to_vector<double>(), 1e-12);
}

TEST_CASE("layer_norm_backward: the input gradient of layer_norm built from elementary ops") {
  // The one-pass kernel against the gradient the engine takes of layer norm written out in
  // differentiable ops (mean, subtraction, rsqrt), for a seed g; strided x and gy, float32.
  auto composed = [](const Tensor& x, double eps) {
    Tensor c = x - mean(x, {-1}, true);
    return c * rsqrt(mean(square(c), {-1}, true) + eps);
  };
  for (double eps : {1e-6, 1e-2}) {
    INFO("eps " << eps);
    Tensor x = rnd({3, 2, 7}, -2, 2, 550).requires_grad_();
    Tensor g = rnd({3, 2, 7}, -1, 1, 551);
    Tensor expected = grad({composed(x, eps)}, {x}, {g})[0];
    check_same(layer_norm_backward(x.detach(), g, eps), expected, 1e-12);
  }
  Tensor xt = transpose(rnd({6, 4}, -2, 2, 552)).requires_grad_();
  Tensor gt = transpose(rnd({6, 4}, -1, 1, 553));
  check_same(layer_norm_backward(xt.detach(), gt), grad({composed(xt, 1e-6)}, {xt}, {gt})[0], 1e-12);
  // A broadcast gradient (a stride-0 view), and a large input on the parallel path.
  Tensor gb = expand(rnd({1, 6}, -1, 1, 554), {4, 6});
  check_same(layer_norm_backward(xt.detach(), gb), grad({composed(xt, 1e-6)}, {xt}, {gb})[0], 1e-12);
  Tensor big = rnd({300, 130}, -5, 5, 555).requires_grad_();
  Tensor gbig = rnd({300, 130}, -1, 1, 556);
  check_same(layer_norm_backward(big.detach(), gbig), grad({composed(big, 1e-6)}, {big}, {gbig})[0], 1e-11);
  Tensor x32 = cast(xt.detach(), DType::float32);
  Tensor b32 = layer_norm_backward(x32, cast(gt, DType::float32));
  CHECK(b32.dtype() == DType::float32);
  check_same(cast(b32, DType::float64), layer_norm_backward(xt.detach(), gt), 2e-5);
}

TEST_CASE("layer_norm_backward: gradcheck orders 1-3 in x and gy, strided, broadcast") {
  Tensor x = rnd({3, 5}, -2, 2, 560), gy = rnd({3, 5}, -1, 1, 561);
  gradcheck123([](V v) { return layer_norm_backward(v[0], v[1], 1e-3); }, {x, gy});
  gradcheck12([](V v) { return layer_norm_backward(transpose(v[0]), transpose(v[1]), 1e-3); },
              {rnd({5, 3}, -2, 2, 562), rnd({5, 3}, -1, 1, 563)});
  gradcheck12([](V v) { return layer_norm_backward(v[0], expand(v[1], {2, 3, 4}), 1e-3); },
              {rnd({2, 3, 4}, -2, 2, 564), rnd({3, 1}, -1, 1, 565)});
}

TEST_CASE("layer_norm_backward: its one-pass vjp equals the differentiable one") {
  // Without create_graph the rule runs one kernel; with it, differentiable ops. Same values, for
  // contiguous, strided and broadcast cotangents, float64 and float32.
  auto both_ways = [](const Tensor& x0, const Tensor& gy0, const Tensor& u, double tol) {
    Tensor x = x0.detach().requires_grad_(), gy = gy0.detach().requires_grad_();
    Tensor out = layer_norm_backward(x, gy, 1e-3);
    auto fast = grad({out}, {x, gy}, {u}, {.retain_graph = true});
    auto recorded = grad({out}, {x, gy}, {u}, {.create_graph = true});
    check_same(fast[0], recorded[0].detach(), tol);
    check_same(fast[1], recorded[1].detach(), tol);
    // Only one of the two wanted.
    check_same(grad({layer_norm_backward(x, gy0, 1e-3)}, {x}, {u})[0], recorded[0].detach(), tol);
    check_same(grad({layer_norm_backward(x0, gy, 1e-3)}, {gy}, {u})[0], recorded[1].detach(), tol);
  };
  Tensor x = rnd({4, 9}, -2, 2, 570), gy = rnd({4, 9}, -1, 1, 571), u = rnd({4, 9}, -1, 1, 572);
  both_ways(x, gy, u, 1e-12);
  both_ways(transpose(rnd({9, 4}, -2, 2, 573)), gy, transpose(rnd({9, 4}, -1, 1, 574)), 1e-12);
  both_ways(x, gy, expand(rnd({1, 9}, -1, 1, 575), {4, 9}), 1e-12);
  both_ways(rnd({300, 70}, -3, 3, 576), rnd({300, 70}, -1, 1, 577), rnd({300, 70}, -1, 1, 578), 1e-11);
  both_ways(cast(x, DType::float32), cast(gy, DType::float32), cast(u, DType::float32), 1e-5);
}
