// Higher-order derivatives against closed forms: Hessians built row by row from grad of grad,
// Hessian-vector products, and third (and fourth) derivatives through nested grads.
#include <cmath>

#include "helpers.hpp"

using namespace mttt;
using namespace test;

namespace {

// The Hessian of a scalar f at x (1-D), row i = d(df/dx_i)/dx, as a row-major n x n vector.
Vec hessian(const std::function<Tensor(const Tensor&)>& f, const Vec& at) {
  const auto n = static_cast<std::int64_t>(at.size());
  Tensor x = f64(at, {n}).requires_grad_();
  Tensor g = grad(f(x), x, {.create_graph = true});
  REQUIRE(g.requires_grad());
  Vec h;
  for (std::int64_t i = 0; i < n; ++i) {
    Tensor row = grad(select(g, 0, i), x, {.retain_graph = true, .allow_unused = true});
    Vec r = row.defined() ? row.to_vector<double>() : Vec(at.size(), 0.0);
    h.insert(h.end(), r.begin(), r.end());
  }
  return h;
}

Vec softmax_ref(const Vec& x) {
  double m = *std::max_element(x.begin(), x.end()), z = 0;
  Vec p(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) z += p[i] = std::exp(x[i] - m);
  for (double& v : p) v /= z;
  return p;
}

// diag(p) - p p^T: the Hessian of logsumexp, and of cross-entropy in the logits.
Vec softmax_hessian(const Vec& p) {
  const std::size_t n = p.size();
  Vec h(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) h[i * n + j] = (i == j ? p[i] : 0.0) - p[i] * p[j];
  return h;
}

}  // namespace

TEST_CASE("Hessian of sum(x^3) + x0 x1 is diag(6x) plus the cross term") {
  const Vec at{0.7, -1.3, 0.4, 2.1};
  auto f = [](const Tensor& x) { return sum(x * x * x) + select(x, 0, 0) * select(x, 0, 1); };
  Vec expected(16, 0.0);
  for (std::size_t i = 0; i < 4; ++i) expected[i * 4 + i] = 6 * at[i];
  expected[0 * 4 + 1] = expected[1 * 4 + 0] = 1;
  Vec h = hessian(f, at);
  check_values(f64(h, {4, 4}), expected, 1e-12);
  // The same function through pow, square and a matmul inner product.
  auto f2 = [](const Tensor& x) {
    Tensor a = slice(x, 0, 0, 1), b = slice(x, 0, 1, 2);
    return sum(pow(x, 3.0)) + matmul(a, b);
  };
  check_values(f64(hessian(f2, at), {4, 4}), expected, 1e-12);
}

TEST_CASE("Hessian of a quadratic form through matmul is the symmetrised matrix") {
  // f(x) = 0.5 x^T A x + b^T x: H = (A + A^T) / 2.
  const Vec a{2, -1, 0.5, 3, 1, -2, 0.25, 4, -1};
  Tensor A = f64(a, {3, 3}), b = f64({1, -2, 0.5}, {3});
  auto f = [&](const Tensor& x) { return 0.5 * matmul(x, matmul(A, x)) + matmul(b, x); };
  Vec expected(9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) expected[i * 3 + j] = 0.5 * (a[i * 3 + j] + a[j * 3 + i]);
  check_values(f64(hessian(f, {0.3, -0.8, 1.1}), {3, 3}), expected, 1e-12);
}

TEST_CASE("Hessians of logsumexp and cross-entropy are diag(p) - p p^T") {
  const Vec at{0.5, -1.0, 2.0, 0.1, -0.4};
  Vec expected = softmax_hessian(softmax_ref(at));
  check_values(f64(hessian([](const Tensor& x) { return logsumexp(x); }, at), {5, 5}), expected, 1e-12);
  // -log softmax(x)[2] = logsumexp(x) - x_2 has the same Hessian.
  auto ce = [](const Tensor& x) { return -select(log_softmax(x, 0), 0, 2); };
  check_values(f64(hessian(ce, at), {5, 5}), expected, 1e-12);
  // Shifted far up: the stable forms give the same Hessian.
  Vec shifted = at;
  for (double& v : shifted) v += 700;
  check_values(f64(hessian(ce, shifted), {5, 5}), expected, 1e-10);
}

TEST_CASE("Hessian-vector products match the closed form and the explicit Hessian") {
  const Vec at{0.7, -1.3, 0.4, 2.1}, v{0.5, 2.0, -1.0, 0.25};
  auto f = [](const Tensor& x) { return sum(x * x * x) + select(x, 0, 0) * select(x, 0, 1); };
  Tensor x = f64(at, {4}).requires_grad_();
  Tensor g = grad(f(x), x, {.create_graph = true});
  // H v = grad <grad f, v>, without ever forming H.
  Tensor hv = grad(sum(g * f64(v, {4})), x);
  Vec expected(4);
  for (std::size_t i = 0; i < 4; ++i) expected[i] = 6 * at[i] * v[i];
  expected[0] += v[1];
  expected[1] += v[0];
  check_values(hv, expected, 1e-12);

  Vec h = hessian(f, at), hv_explicit(4, 0.0);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j) hv_explicit[i] += h[i * 4 + j] * v[j];
  check_values(hv, hv_explicit, 1e-12);

  // For logsumexp: H v = p * v - p <p, v>.
  const Vec z{0.2, -0.3, 1.5, 0.0};
  Tensor xz = f64(z, {4}).requires_grad_();
  Tensor gz = grad(logsumexp(xz), xz, {.create_graph = true});
  Tensor hvz = grad(sum(gz * f64(v, {4})), xz);
  Vec p = softmax_ref(z);
  double pv = 0;
  for (std::size_t i = 0; i < 4; ++i) pv += p[i] * v[i];
  Vec expected_z(4);
  for (std::size_t i = 0; i < 4; ++i) expected_z[i] = p[i] * v[i] - p[i] * pv;
  check_values(hvz, expected_z, 1e-12);
}

TEST_CASE("Hessian-vector product of a matrix function through matmul and tanh") {
  // f(W) = sum(tanh(W u)), u fixed: df/dW = (1 - t^2) u^T, and
  // H[V] = -2 t (1 - t^2) (V u) u^T, with t = tanh(W u).
  const Vec w{0.3, -0.2, 0.5, 0.1, 0.4, -0.6}, u{1.0, -0.5, 0.25}, vv{0.2, 0.1, -0.3, 0.5, -0.1, 0.4};
  Tensor W = f64(w, {2, 3}).requires_grad_();
  Tensor U = f64(u, {3, 1});
  Tensor g = grad(sum(tanh(matmul(W, U))), W, {.create_graph = true});
  Tensor hv = grad(sum(g * f64(vv, {2, 3})), W);
  Vec expected(6);
  for (int i = 0; i < 2; ++i) {
    double wu = 0, vu = 0;
    for (int j = 0; j < 3; ++j) wu += w[i * 3 + j] * u[j], vu += vv[i * 3 + j] * u[j];
    double t = std::tanh(wu);
    for (int j = 0; j < 3; ++j) expected[i * 3 + j] = -2 * t * (1 - t * t) * vu * u[j];
  }
  check_values(hv, expected, 1e-12);
}

TEST_CASE("third and fourth derivatives of exp are exp") {
  const Vec at{-1.5, 0.0, 0.3, 2.0};
  Tensor x = f64(at, {4}).requires_grad_();
  Tensor d1 = grad(sum(exp(x)), x, {.create_graph = true});
  Tensor d2 = grad(sum(d1), x, {.create_graph = true});
  Tensor d3 = grad(sum(d2), x, {.create_graph = true});
  Tensor d4 = grad(sum(d3), x);
  Vec e = ref_unary(at, [](double v) { return std::exp(v); });
  check_values(d1, e, 1e-14);
  check_values(d2, e, 1e-14);
  check_values(d3, e, 1e-14);
  check_values(d4, e, 1e-14);
  // A scalar input, as a textbook writes d3/dx3.
  Tensor s = f64({0.7}, {}).requires_grad_();
  Tensor s1 = grad(exp(s), s, {.create_graph = true});
  Tensor s2 = grad(s1, s, {.create_graph = true});
  CHECK(grad(s2, s).item<double>() == Approx(std::exp(0.7)).epsilon(1e-14));
}

TEST_CASE("third derivatives in closed form: tanh, sin, x^3 and xyz") {
  const Vec at{-1.2, -0.3, 0.5, 1.7};
  auto third = [&](const std::function<Tensor(const Tensor&)>& f) {
    Tensor x = f64(at, {4}).requires_grad_();
    Tensor d1 = grad(sum(f(x)), x, {.create_graph = true});
    Tensor d2 = grad(sum(d1), x, {.create_graph = true});
    return grad(sum(d2), x);
  };
  // tanh''' = -2 (1 - t^2)(1 - 3 t^2)
  check_values(third([](const Tensor& x) { return tanh(x); }), ref_unary(at, [](double v) {
                 double t = std::tanh(v);
                 return -2 * (1 - t * t) * (1 - 3 * t * t);
               }),
               1e-12);
  check_values(third([](const Tensor& x) { return sin(x); }), ref_unary(at, [](double v) { return -std::cos(v); }),
               1e-12);
  check_values(third([](const Tensor& x) { return x * x * x; }), Vec(4, 6.0), 1e-12);
  check_values(third([](const Tensor& x) { return sigmoid(x); }), ref_unary(at, [](double v) {
                 double s = 1 / (1 + std::exp(-v));
                 return s * (1 - s) * (1 - 6 * s + 6 * s * s);
               }),
               1e-12);

  // d3(xyz)/dx dy dz = 1, through three different inputs.
  Tensor x = f64({0.4}, {}).requires_grad_(), y = f64({-0.9}, {}).requires_grad_(), z = f64({1.3}, {}).requires_grad_();
  Tensor dx = grad(x * y * z, x, {.create_graph = true});
  Tensor dxy = grad(dx, y, {.create_graph = true});
  CHECK(dxy.item<double>() == Approx(1.3).epsilon(1e-14));
  CHECK(grad(dxy, z).item<double>() == Approx(1.0).epsilon(1e-14));
}

TEST_CASE("backward through a create_graph gradient accumulates the second derivative") {
  // L = sum((d/dx sum(x^3))^2) = 9 sum(x^4), dL/dx = 36 x^3.
  const Vec at{0.5, -1.0, 1.5};
  Tensor x = f64(at, {3}).requires_grad_();
  Tensor g = grad(sum(x * x * x), x, {.create_graph = true});
  sum(g * g).backward();
  REQUIRE(x.grad().defined());
  check_values(x.grad(), ref_unary(at, [](double v) { return 36 * v * v * v; }), 1e-12);
}
