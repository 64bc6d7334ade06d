// Linear, LayerNorm, MLP, patch embedding and position embeddings against naive references.
#include <catch2/catch.hpp>
#include <cmath>

#include "nn/functional.hpp"
#include "nn/layers/layer_norm.hpp"
#include "nn/layers/linear.hpp"
#include "nn/layers/mlp.hpp"
#include "nn/layers/patch_embedding.hpp"
#include "nn/layers/position_embedding.hpp"
#include "tests/nn/layers/helpers.hpp"

using namespace mttt;
using namespace mttt::nn;
using test::max_abs_diff;
using test::random64;

TEST_CASE("Linear: kernel (in, out), x @ kernel + bias over any leading axes") {
  Generator gen(1);
  Linear fc(4, 5, gen, {.dtype = DType::float64});
  auto params = fc.named_parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].first == "kernel");
  CHECK(params[0].second.shape() == Shape{4, 5});
  CHECK(params[1].first == "bias");
  CHECK(params[1].second.shape() == Shape{5});
  CHECK(test::max_abs(fc.bias()) == 0);
  Tensor x = random64({2, 3, 4}, gen);
  Tensor y = fc.forward(x);
  REQUIRE(y.shape() == Shape{2, 3, 5});
  auto xs = x.to_vector<double>(), ks = fc.kernel().to_vector<double>(), ys = y.to_vector<double>();
  for (int r = 0; r < 6; ++r)
    for (int o = 0; o < 5; ++o) {
      double s = 0;
      for (int i = 0; i < 4; ++i) s += xs[r * 4 + i] * ks[i * 5 + o];
      CHECK(ys[r * 5 + o] == Approx(s).margin(1e-13));
    }
  Linear nobias(4, 5, gen, {.use_bias = false});
  CHECK(nobias.named_parameters().size() == 1);
  REQUIRE_THROWS_WITH(fc.forward(random64({2, 3}, gen)), Catch::Contains("[dense]") && Catch::Contains("(2, 3)") &&
                                                             Catch::Contains("last axis must be 4"));
  // A batched kernel (functional application with per-instance weights) broadcasts.
  Tensor batched = random64({2, 4, 5}, gen);
  Tensor yb = dense(x, batched, Tensor());
  CHECK(max_abs_diff(select(yb, 0, 1), matmul(select(x, 0, 1), select(batched, 0, 1))) < 1e-14);
  auto r = gradcheck([](const std::vector<Tensor>& a) { return dense(a[0], a[1], a[2]); },
                     {random64({2, 3, 4}, gen), random64({4, 5}, gen), random64({5}, gen)}, {.order = 2});
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("LayerNorm: biased variance, eps 1e-6, scale and bias") {
  Generator gen(2);
  LayerNorm ln(6, DType::float64);
  CHECK(ln.eps() == 1e-6);
  CHECK(ln.scale().to_vector<double>() == std::vector<double>(6, 1.0));
  Tensor x = random64({3, 6}, gen, 0.01);  // small values: eps matters
  Tensor scale = random64({6}, gen), bias = random64({6}, gen);
  Tensor y = functional_call(ln, {{"scale", scale}, {"bias", bias}}, x);
  auto xs = x.to_vector<double>(), ys = y.to_vector<double>(), s = scale.to_vector<double>(),
       b = bias.to_vector<double>();
  for (int r = 0; r < 3; ++r) {
    double m = 0, v = 0;
    for (int i = 0; i < 6; ++i) m += xs[r * 6 + i] / 6;
    for (int i = 0; i < 6; ++i) v += (xs[r * 6 + i] - m) * (xs[r * 6 + i] - m) / 6;
    for (int i = 0; i < 6; ++i)
      CHECK(ys[r * 6 + i] == Approx((xs[r * 6 + i] - m) / std::sqrt(v + 1e-6) * s[i] + b[i]).margin(1e-12));
  }
  auto f = [&](const std::vector<Tensor>& a) { return functional_call(ln, {{"scale", a[1]}, {"bias", a[2]}}, a[0]); };
  auto r = gradcheck(f, {random64({2, 6}, gen), scale, bias}, {.order = 2});
  INFO(r.message);
  CHECK(r.ok);
  REQUIRE_THROWS_WITH(ln.forward(random64({2, 5}, gen)), Catch::Contains("[LayerNorm]") && Catch::Contains("width 6"));
}

TEST_CASE("MLP block: fc2(gelu_tanh(fc1(x))), xavier kernels, tiny normal biases") {
  Generator gen(3);
  Mlp mlp(8, 32, gen, DType::float64);
  CHECK(mlp.fc1().kernel().shape() == Shape{8, 32});
  CHECK(mlp.fc2().kernel().shape() == Shape{32, 8});
  CHECK(test::max_abs(mlp.fc1().kernel()) <= std::sqrt(6.0 / 40));
  CHECK(test::max_abs(mlp.fc1().bias()) < 1e-5);
  CHECK(test::max_abs(mlp.fc1().bias()) > 0);
  Tensor x = random64({2, 3, 8}, gen);
  Tensor h = matmul(x, mlp.fc1().kernel()) + mlp.fc1().bias();
  const double c = std::sqrt(2.0 / M_PI);
  Tensor g = 0.5 * h * (1.0 + tanh(c * (h + 0.044715 * h * h * h)));
  CHECK(max_abs_diff(mlp.forward(x), matmul(g, mlp.fc2().kernel()) + mlp.fc2().bias()) < 1e-12);
  Mlp small(3, 4, gen, DType::float64);
  auto f_small = [&](const std::vector<Tensor>& a) {
    return functional_call(small, {{"fc1.kernel", a[1]}, {"fc1.bias", a[2]}}, a[0]);
  };
  auto r = gradcheck(f_small, {random64({2, 3}, gen), random64({3, 4}, gen), random64({4}, gen)}, {.order = 2});
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("patchify: row-major tokens, features in the order (py, px, c) of NHWC images") {
  const std::int64_t B = 2, H = 4, W = 6, C = 3, p = 2;
  std::vector<double> v;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t y = 0; y < H; ++y)
      for (std::int64_t x = 0; x < W; ++x)
        for (std::int64_t c = 0; c < C; ++c) v.push_back(static_cast<double>(b * 10000 + y * 100 + x * 10 + c));
  Tensor images = from_vector(v, {B, H, W, C}, {DType::float64});
  Tensor tokens = patchify(images, p);
  REQUIRE(tokens.shape() == Shape{B, (H / p) * (W / p), p * p * C});
  auto t = tokens.to_vector<double>();
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t gy = 0; gy < H / p; ++gy)
      for (std::int64_t gx = 0; gx < W / p; ++gx)
        for (std::int64_t py = 0; py < p; ++py)
          for (std::int64_t px = 0; px < p; ++px)
            for (std::int64_t c = 0; c < C; ++c) {
              const std::int64_t token = gy * (W / p) + gx, feature = (py * p + px) * C + c;
              const double expected = static_cast<double>(b * 10000 + (gy * p + py) * 100 + (gx * p + px) * 10 + c);
              CHECK(t[static_cast<std::size_t>((b * (H / p) * (W / p) + token) * p * p * C + feature)] == expected);
            }
  // Patch 1 = pixels.
  CHECK(max_abs_diff(patchify(images, 1), reshape(images, {B, H * W, C})) == 0);
  REQUIRE_THROWS_WITH(patchify(images, 4), Catch::Contains("(2, 4, 6, 3) do not split into 4x4 patches"));
}

TEST_CASE("PatchEmbedding: kernel (p p C, D) truncated lecun-normal, zero bias, dense on the patches") {
  Generator gen(4);
  PatchEmbedding emb(4, 3, 16, gen, DType::float64);
  CHECK(emb.tensor("kernel").shape() == Shape{48, 16});
  CHECK(test::max_abs(emb.tensor("bias")) == 0);
  CHECK(test::max_abs(emb.tensor("kernel")) <= 2 * std::sqrt(1.0 / 48) / 0.87962566103423978);
  Tensor images = random64({2, 8, 12, 3}, gen);
  Tensor tokens = emb.forward(images);
  CHECK(tokens.shape() == Shape{2, 6, 16});
  CHECK(max_abs_diff(tokens, matmul(patchify(images, 4), emb.tensor("kernel"))) < 1e-13);
  REQUIRE_THROWS_WITH(emb.forward(random64({2, 8, 8, 1}, gen)), Catch::Contains("must be (B, H, W, 3)"));
  PatchEmbedding tiny(2, 2, 3, gen, DType::float64);
  auto f = [&](const std::vector<Tensor>& a) { return functional_call(tiny, {{"kernel", a[1]}}, a[0]); };
  for (int order : {1, 2}) {
    auto r = gradcheck(f, {random64({1, 4, 2, 2}, gen), random64({8, 3}, gen)}, {.order = order});
    INFO("order " << order << ": " << r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("2-D sin-cos position embedding as the spec writes it") {
  const std::int64_t rows = 3, cols = 5, D = 16, q = D / 4;
  Tensor pe = sincos_2d_position_embedding(rows, cols, D, DType::float64);
  REQUIRE(pe.shape() == Shape{1, rows * cols, D});
  auto v = pe.to_vector<double>();
  for (std::int64_t y = 0; y < rows; ++y)
    for (std::int64_t x = 0; x < cols; ++x)
      for (std::int64_t k = 0; k < q; ++k) {
        const double w = std::pow(10000.0, -static_cast<double>(k) / static_cast<double>(q - 1));
        const double* row = v.data() + (y * cols + x) * D;
        CHECK(row[k] == Approx(std::sin(x * w)).margin(1e-15));
        CHECK(row[q + k] == Approx(std::cos(x * w)).margin(1e-15));
        CHECK(row[2 * q + k] == Approx(std::sin(y * w)).margin(1e-15));
        CHECK(row[3 * q + k] == Approx(std::cos(y * w)).margin(1e-15));
      }
  REQUIRE_THROWS_WITH(sincos_2d_position_embedding(2, 2, 18), Catch::Contains("multiple of 4"));
  CHECK(parse_position_embedding("learned") == PositionEmbeddingKind::learned);
  REQUIRE_THROWS_WITH(parse_position_embedding("rope"), Catch::Contains("valid: sincos, learned"));
}

TEST_CASE("learned position embedding: normal with std 1/sqrt(D)") {
  Generator gen(5);
  Tensor pe = learned_position_embedding_init(1024, 64, gen, DType::float64);
  REQUIRE(pe.shape() == Shape{1, 1024, 64});
  CHECK(test::std_of(pe.to_vector<double>()) == Approx(1.0 / 8).epsilon(0.02));
}
