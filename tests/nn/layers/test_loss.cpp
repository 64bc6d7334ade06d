// Softmax cross-entropy against a naive reference: integer labels, soft labels, smoothing.
#include <catch2/catch.hpp>
#include <cmath>

#include "nn/loss.hpp"
#include "tests/nn/layers/helpers.hpp"

using namespace mttt;
using namespace mttt::nn;
using test::max_abs_diff;
using test::random64;

namespace {

// -sum_c t_c log softmax(z)_c per row, averaged, with t = (1 - s) labels + s / C.
double naive(const Tensor& logits, const std::vector<std::vector<double>>& targets, double s) {
  auto z = logits.to_vector<double>();
  const std::size_t B = targets.size(), C = targets[0].size();
  double total = 0;
  for (std::size_t b = 0; b < B; ++b) {
    double m = -1e300, sum = 0;
    for (std::size_t c = 0; c < C; ++c) m = std::max(m, z[b * C + c]);
    for (std::size_t c = 0; c < C; ++c) sum += std::exp(z[b * C + c] - m);
    for (std::size_t c = 0; c < C; ++c) {
      const double t = (1 - s) * targets[b][c] + s / static_cast<double>(C);
      total -= t * (z[b * C + c] - m - std::log(sum));
    }
  }
  return total / static_cast<double>(B);
}

}  // namespace

TEST_CASE("cross-entropy with integer labels, with and without label smoothing") {
  Generator gen(1);
  Tensor logits = random64({4, 5}, gen, 3.0);
  Tensor labels = from_vector(std::vector<std::int64_t>{0, 4, 2, 2}, {4});
  std::vector<std::vector<double>> onehot(4, std::vector<double>(5, 0.0));
  for (int b = 0; b < 4; ++b) onehot[b][labels.to_vector<std::int64_t>()[b]] = 1;
  CHECK(softmax_cross_entropy(logits, labels).item() == Approx(naive(logits, onehot, 0)).epsilon(1e-13));
  CHECK(softmax_cross_entropy(logits, labels, {.label_smoothing = 0.1}).item() ==
        Approx(naive(logits, onehot, 0.1)).epsilon(1e-13));
  Tensor per = softmax_cross_entropy(logits, labels, {.reduction = Reduction::none});
  REQUIRE(per.shape() == Shape{4});
  CHECK(softmax_cross_entropy(logits, labels, {.reduction = Reduction::sum}).item() ==
        Approx(4 * naive(logits, onehot, 0)));
  // Large logits stay finite.
  CHECK(std::isfinite(softmax_cross_entropy(logits * 1000.0, labels).item()));
}

TEST_CASE("cross-entropy with soft labels (mixup)") {
  Generator gen(2);
  Tensor logits = random64({3, 4}, gen);
  std::vector<std::vector<double>> soft = {{0.7, 0.3, 0, 0}, {0, 0, 0.5, 0.5}, {0.25, 0.25, 0.25, 0.25}};
  std::vector<double> flat;
  for (auto& r : soft) flat.insert(flat.end(), r.begin(), r.end());
  Tensor labels = from_vector(flat, {3, 4}, {DType::float64});
  CHECK(softmax_cross_entropy(logits, labels).item() == Approx(naive(logits, soft, 0)).epsilon(1e-13));
  CHECK(softmax_cross_entropy(logits, labels, {.label_smoothing = 0.2}).item() ==
        Approx(naive(logits, soft, 0.2)).epsilon(1e-13));
}

TEST_CASE("cross-entropy gradient: (softmax - target) / B, and gradcheck to second order") {
  Generator gen(3);
  Tensor logits = random64({3, 4}, gen).requires_grad_();
  Tensor labels = from_vector(std::vector<std::int64_t>{3, 0, 1}, {3});
  const double s = 0.1;
  Tensor g = grad(softmax_cross_entropy(logits, labels, {.label_smoothing = s}), logits);
  Tensor target = one_hot(labels, 4, DType::float64) * (1 - s) + s / 4;
  CHECK(max_abs_diff(g, (softmax(logits.detach(), -1) - target) / 3.0) < 1e-14);
  for (bool soft : {false, true}) {
    Tensor l = soft ? softmax(random64({3, 4}, gen), -1) : labels;
    auto f = [&](const std::vector<Tensor>& a) { return softmax_cross_entropy(a[0], l, {.label_smoothing = s}); };
    auto r = gradcheck(f, {logits.detach()}, {.order = 2});
    INFO(r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("cross-entropy errors name the shapes and what was expected") {
  Tensor logits = zeros({2, 3});
  REQUIRE_THROWS_WITH(softmax_cross_entropy(logits, from_vector(std::vector<std::int64_t>{0, 3}, {2})),
                      Catch::Contains("label 3 is outside [0, 3)"));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(logits, from_vector(std::vector<std::int64_t>{0}, {1})),
                      Catch::Contains("integer labels (1,) must be (B) = (2)"));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(logits, zeros({2, 4})), Catch::Contains("soft labels (2, 4)"));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(zeros({2, 3, 1}), zeros({2, 3})), Catch::Contains("(B, classes)"));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(logits, zeros({2, 3}), {.label_smoothing = 1.0}),
                      Catch::Contains("outside [0, 1)"));
}

TEST_CASE("count_correct: argmax against integer or soft labels") {
  Tensor logits = from_vector(std::vector<double>{1, 2, 0, 5, 1, 1}, {2, 3}, {DType::float64});
  CHECK(count_correct(logits, from_vector(std::vector<std::int64_t>{1, 0}, {2})) == 2);
  CHECK(count_correct(logits, from_vector(std::vector<std::int64_t>{2, 0}, {2})) == 1);
  CHECK(count_correct(logits, from_vector(std::vector<double>{0, 0.6, 0.4, 0.2, 0.8, 0}, {2, 3}, {DType::float64})) ==
        1);
}
