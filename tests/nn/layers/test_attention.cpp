// Self-attention and linear attention against naive float64 references, gradchecks, the
// factory, and the spec's parameter counts.
#include <catch2/catch.hpp>
#include <cmath>

#include "nn/config_values.hpp"
#include "nn/functional.hpp"
#include "nn/layers/attention.hpp"
#include "nn/layers/linear_attention.hpp"
#include "tests/nn/layers/helpers.hpp"

using namespace mttt;
using namespace mttt::nn;
using test::max_abs_diff;
using test::random64;

namespace {

// Values of a (B, N, D) tensor as [b][n][k].
struct Tokens {
  std::vector<double> v;
  std::int64_t N, D;
  double at(std::int64_t b, std::int64_t n, std::int64_t k) const {
    return v[static_cast<std::size_t>((b * N + n) * D + k)];
  }
};

Tokens tokens_of(const Tensor& t) { return {t.to_vector<double>(), t.size(1), t.size(2)}; }

// Dense layer of a module by hand: y @ kernel + bias.
Tensor project(const Module& m, const std::string& name, const Tensor& y) {
  return matmul(y, m.tensor(name + ".kernel")) + m.tensor(name + ".bias");
}

enum class Kind { softmax, linear_identity, linear_elu };

// The layer's output by loops over images, heads and tokens.
Tensor naive_attention(const Module& m, const Tensor& y, std::int64_t H, Kind kind, const std::string& out_name) {
  const std::int64_t B = y.size(0), N = y.size(1), D = y.size(2), d = D / H;
  Tensor q = project(m, "query", y), k = project(m, "key", y);
  if (kind == Kind::linear_elu) {
    q = elu(q) + 1.0;
    k = elu(k) + 1.0;
  }
  Tokens Q = tokens_of(q), K = tokens_of(k), V = tokens_of(project(m, "value", y));
  std::vector<double> out(static_cast<std::size_t>(B * N * D), 0.0);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t i = 0; i < N; ++i) {
        std::vector<double> weight(static_cast<std::size_t>(N));
        double total = 0;
        for (std::int64_t j = 0; j < N; ++j) {
          double dot = 0;
          for (std::int64_t c = 0; c < d; ++c) dot += Q.at(b, i, h * d + c) * K.at(b, j, h * d + c);
          weight[j] = kind == Kind::softmax ? std::exp(dot / std::sqrt(static_cast<double>(d))) : dot;
          total += weight[j];
        }
        const double norm = kind == Kind::linear_identity ? static_cast<double>(N * d) : total;
        for (std::int64_t c = 0; c < d; ++c) {
          double s = 0;
          for (std::int64_t j = 0; j < N; ++j) s += weight[j] * V.at(b, j, h * d + c);
          out[static_cast<std::size_t>((b * N + i) * D + h * d + c)] = s / norm;
        }
      }
  return project(m, out_name, from_vector(out, {B, N, D}, {DType::float64}));
}

// Biases perturbed away from their zero init, so that every path is exercised.
void perturb_biases(Module& m, Generator& gen) {
  NoGrad off;
  for (const auto& [name, t] : m.named_parameters())
    if (name.ends_with(".bias")) copy_(t, random64(t.shape(), gen, 0.3));
}

}  // namespace

TEST_CASE("self-attention: names, shapes, inits and the spec's parameter count") {
  Generator gen(1);
  SelfAttention attn(384, 6, gen);
  std::vector<std::string> names;
  for (const auto& [name, t] : attn.named_parameters()) {
    names.push_back(name);
    CHECK(t.shape() == (name.ends_with("kernel") ? Shape{384, 384} : Shape{384}));
  }
  CHECK(names == std::vector<std::string>{"query.kernel", "query.bias", "key.kernel", "key.bias", "value.kernel",
                                          "value.bias", "out.kernel", "out.bias"});
  CHECK(attn.count_parameters().total == 591360);  // the spec's ViT-S self-attention layer
  CHECK(test::max_abs(attn.tensor("key.kernel")) <= std::sqrt(6.0 / 768));
  CHECK(test::max_abs(attn.tensor("key.kernel")) > 0.99 * std::sqrt(6.0 / 768));
  CHECK(test::max_abs(attn.tensor("out.bias")) == 0);
  LinearAttention lin(384, 6, FeatureMap::identity, gen);
  CHECK(lin.count_parameters().total == 591360);
  CHECK(lin.contains("proj.kernel"));
}

TEST_CASE("self-attention equals softmax(Q K^T / sqrt(d)) V per head, then out") {
  Generator gen(2);
  SelfAttention attn(12, 3, gen, DType::float64);
  perturb_biases(attn, gen);
  Tensor y = random64({2, 5, 12}, gen);
  Tensor z = attn.forward(y);
  REQUIRE(z.shape() == Shape{2, 5, 12});
  CHECK(max_abs_diff(z, naive_attention(attn, y, 3, Kind::softmax, "out")) < 1e-12);
}

TEST_CASE("linear attention, identity map: Q (K^T V) / (N d) per head, then proj") {
  Generator gen(3);
  LinearAttention attn(12, 3, FeatureMap::identity, gen, DType::float64);
  perturb_biases(attn, gen);
  Tensor y = random64({2, 7, 12}, gen);
  CHECK(max_abs_diff(attn.forward(y), naive_attention(attn, y, 3, Kind::linear_identity, "proj")) < 1e-12);
}

TEST_CASE("linear attention, elu + 1: per-query normaliser Q_i . sum_j K_j") {
  Generator gen(4);
  LinearAttention attn(12, 2, FeatureMap::elu_plus_one, gen, DType::float64);
  perturb_biases(attn, gen);
  Tensor y = random64({2, 6, 12}, gen);
  CHECK(max_abs_diff(attn.forward(y), naive_attention(attn, y, 2, Kind::linear_elu, "proj")) < 1e-12);
}

TEST_CASE("attention layers pass gradcheck at first and second order") {
  Generator gen(5);
  auto check_layer = [&](TokenMixer& layer, const char* what) {
    perturb_biases(layer, gen);
    auto f = [&](const std::vector<Tensor>& a) {
      return functional_call(layer, {{"query.kernel", a[1]}, {"key.bias", a[2]}}, a[0]);
    };
    std::vector<Tensor> inputs = {random64({2, 3, 4}, gen), layer.tensor("query.kernel").detach() * 1.0,
                                  layer.tensor("key.bias").detach() * 1.0};
    for (int order : {1, 2}) {
      auto r = gradcheck(f, inputs, {.order = order});
      INFO(what << " order " << order << ": " << r.message);
      CHECK(r.ok);
    }
  };
  SelfAttention sa(4, 2, gen, DType::float64);
  check_layer(sa, "self_attention");
  LinearAttention la(4, 2, FeatureMap::identity, gen, DType::float64);
  check_layer(la, "linear_attention");
  LinearAttention le(4, 2, FeatureMap::elu_plus_one, gen, DType::float64);
  check_layer(le, "linear_attention_elu");
}

TEST_CASE("token mixers are made by name; unknown kinds and options are errors") {
  Generator gen(6);
  auto kinds = token_mixer_kinds();
  for (const char* k : {"self_attention", "linear_attention", "linear_attention_elu"}) {
    CHECK(has_token_mixer(k));
    auto layer = make_token_mixer({.kind = k, .width = 8, .heads = 2, .tokens = 4}, gen);
    CHECK(layer->forward(normal({1, 4, 8}, 0, 1, {}, &gen)).shape() == Shape{1, 4, 8});
  }
  REQUIRE_THROWS_WITH(make_token_mixer({.kind = "attention", .width = 8, .heads = 2}, gen),
                      Catch::Contains("unknown layer kind 'attention'") && Catch::Contains("linear_attention_elu"));
  REQUIRE_THROWS_WITH(make_token_mixer({.kind = "self_attention", .width = 8, .heads = 3}, gen),
                      Catch::Contains("width 8 must be a positive multiple of the 3 heads"));
  REQUIRE_THROWS_WITH(
      make_token_mixer({.kind = "self_attention", .width = 8, .heads = 2, .options = {{"steps", 2}}}, gen),
      Catch::Contains("layer 'self_attention': unknown key 'steps'; valid keys: none"));
  // A kind registered from elsewhere (as mttt/ registers its TTT layers).
  register_token_mixer("test_identity", [](const TokenMixerSpec& s, Generator& g) -> std::unique_ptr<TokenMixer> {
    check_keys(s.options, "layer '" + s.kind + "'", {"scale"});
    return std::make_unique<SelfAttention>(s.width, s.heads, g, s.dtype);
  });
  CHECK(make_token_mixer({.kind = "test_identity", .width = 8, .heads = 2, .options = {{"scale", 1}}}, gen) != nullptr);
  REQUIRE_THROWS_WITH(
      make_token_mixer({.kind = "test_identity", .width = 8, .heads = 2, .options = {{"scal", 1}}}, gen),
      Catch::Contains("valid keys: scale"));
}

TEST_CASE("attention cores reject inconsistent shapes") {
  Generator gen(7);
  Tensor a = random64({1, 2, 3, 4}, gen), b = random64({1, 2, 5, 4}, gen);
  REQUIRE_THROWS_WITH(scaled_dot_product_attention(a, b, b),
                      Catch::Contains("[attention]") && Catch::Contains("(1, 2, 5, 4)"));
  REQUIRE_THROWS_WITH(linear_attention_identity(a, b, b), Catch::Contains("[linear_attention]"));
  SelfAttention sa(8, 2, gen);
  REQUIRE_THROWS_WITH(sa.forward(random64({2, 3, 6}, gen)), Catch::Contains("must be (B, N, 8)"));
}
