// The ViT: the spec's names and shapes, parameter counts, inits, forward, gradients.
#include <catch2/catch.hpp>
#include <cmath>

#include "nn/functional.hpp"
#include "nn/loss.hpp"
#include "nn/vit.hpp"
#include "tests/nn/layers/helpers.hpp"

using namespace mttt;
using namespace mttt::nn;
using test::max_abs_diff;
using test::random64;

namespace {

ViTConfig small_config() {
  ViTConfig c;
  c.variant = "custom";
  c.width = 8;
  c.depth = 2;
  c.heads = 2;
  c.mlp_dim = 16;
  c.patch = 2;
  c.image_height = 4;
  c.image_width = 6;
  c.channels = 3;
  c.classes = 5;
  c.dtype = DType::float64;
  return c;
}

std::int64_t without_posemb(const ViT& vit) {
  std::int64_t n = 0;
  for (const auto& [name, t] : vit.named_parameters())
    if (name != "pos_embedding") n += t.numel();
  return n;
}

}  // namespace

TEST_CASE("a ViT's tensors are named and shaped as the spec's table") {
  Generator gen(1);
  ViTConfig c = small_config();
  c.posemb = PositionEmbeddingKind::learned;
  ViT vit(c, gen);
  std::vector<std::pair<std::string, Shape>> expected = {
      {"embedding.kernel", {12, 8}}, {"embedding.bias", {8}}, {"pos_embedding", {1, 6, 8}}};
  for (int i = 0; i < 2; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    expected.push_back({b + "ln1.scale", {8}});
    expected.push_back({b + "ln1.bias", {8}});
    for (const char* p : {"query", "key", "value", "out"}) {
      expected.push_back({b + "layer." + p + ".kernel", {8, 8}});
      expected.push_back({b + "layer." + p + ".bias", {8}});
    }
    expected.push_back({b + "ln2.scale", {8}});
    expected.push_back({b + "ln2.bias", {8}});
    expected.push_back({b + "mlp.fc1.kernel", {8, 16}});
    expected.push_back({b + "mlp.fc1.bias", {16}});
    expected.push_back({b + "mlp.fc2.kernel", {16, 8}});
    expected.push_back({b + "mlp.fc2.bias", {8}});
  }
  for (auto e : std::vector<std::pair<std::string, Shape>>{{"encoder_norm.scale", {8}},
                                                           {"encoder_norm.bias", {8}},
                                                           {"pre_logits.kernel", {8, 8}},
                                                           {"pre_logits.bias", {8}},
                                                           {"head.kernel", {8, 5}},
                                                           {"head.bias", {5}}})
    expected.push_back(e);
  auto params = vit.named_parameters();
  REQUIRE(params.size() == expected.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i].first == expected[i].first);
    CHECK(params[i].second.shape() == expected[i].second);
  }
  CHECK(vit.named_buffers().empty());
  // Sin-cos: a buffer of the same name, not a parameter.
  ViT fixed(small_config(), gen);
  CHECK_FALSE(fixed.named_parameters()[2].first == "pos_embedding");
  REQUIRE(fixed.named_buffers().size() == 1);
  CHECK(fixed.named_buffers()[0].first == "pos_embedding");
  CHECK(max_abs_diff(fixed.position_embedding(), sincos_2d_position_embedding(2, 3, 8, DType::float64)) == 0);
}

TEST_CASE("the spec's parameter counts: ViT-S/16 and ViT-Ti on 224x224 pixels") {
  Generator gen(2);
  ViTConfig s = ViTConfig::small();  // patch 16, 224x224x3, 1000 classes, sin-cos
  ViT vit_s(s, gen);
  CHECK(vit_s.count_parameters().total == 22122472);  // "22.12M"
  CHECK(vit_s.block(0).layer().count_parameters().total == 591360);

  for (const char* layer : {"self_attention", "linear_attention", "linear_attention_elu"}) {
    ViTConfig ti = ViTConfig::tiny();
    ti.patch = 1;
    ti.posemb = PositionEmbeddingKind::learned;
    ti.layer = layer;
    ViT vit(ti, gen);
    INFO(layer);
    CHECK(vit.tensor("pos_embedding").numel() == 9633792);  // "9.63M by itself"
    CHECK(without_posemb(vit) == 5569576);
    CHECK(vit.count_parameters().total == 5569576 + 9633792);
  }
}

TEST_CASE("ViT inits: zero head, lecun pre-logits and embedding, learned posemb std 1/sqrt(D)") {
  Generator gen(3);
  ViTConfig c = ViTConfig::tiny();
  c.image_height = c.image_width = 64;
  c.posemb = PositionEmbeddingKind::learned;
  ViT vit(c, gen);
  CHECK(test::max_abs(vit.tensor("head.kernel")) == 0);
  CHECK(test::max_abs(vit.tensor("head.bias")) == 0);
  CHECK(test::std_of(vit.tensor("pre_logits.kernel").to_vector<double>()) ==
        Approx(1 / std::sqrt(192.0)).epsilon(0.03));
  CHECK(test::max_abs(vit.tensor("pre_logits.kernel")) <= 2 / std::sqrt(192.0) / 0.87962566103423978 + 1e-6);
  CHECK(test::std_of(vit.tensor("embedding.kernel").to_vector<double>()) == Approx(1 / std::sqrt(768.0)).epsilon(0.03));
  CHECK(test::std_of(vit.tensor("pos_embedding").to_vector<double>()) == Approx(1 / std::sqrt(192.0)).epsilon(0.03));
  CHECK(test::max_abs(vit.tensor("blocks.3.layer.value.bias")) == 0);
  CHECK(test::max_abs(vit.tensor("blocks.3.mlp.fc2.bias")) < 1e-5);
  CHECK(vit.tensor("blocks.3.ln2.scale").to_vector<double>() == std::vector<double>(192, 1.0));
  // The same seed builds the same model.
  Generator again(3);
  ViT twin(c, again);
  for (const auto& [name, t] : vit.named_parameters()) CHECK(max_abs_diff(t, twin.tensor(name)) == 0);
}

TEST_CASE("ViT forward: (B, H, W, C) images to (B, classes) logits; zero head gives zero logits") {
  Generator gen(4);
  ViT vit(small_config(), gen);
  Tensor images = random64({3, 4, 6, 3}, gen);
  Tensor logits = vit.forward(images);
  REQUIRE(logits.shape() == Shape{3, 5});
  CHECK(test::max_abs(logits) == 0);
  CHECK(vit.encode(images).shape() == Shape{3, 6, 8});
  // The forward composed by hand from its parts.
  Tensor x = dense(patchify(images, 2), vit.tensor("embedding.kernel"), vit.tensor("embedding.bias")) +
             vit.position_embedding();
  for (int i = 0; i < 2; ++i) x = vit.block(i).forward(x);
  Tensor pooled =
      tanh(dense(mean(layer_norm(x, vit.tensor("encoder_norm.scale"), vit.tensor("encoder_norm.bias")), {1}),
                 vit.tensor("pre_logits.kernel"), vit.tensor("pre_logits.bias")));
  Tensor head = random64({8, 5}, gen);
  CHECK(max_abs_diff(functional_call(vit, {{"head.kernel", head}}, images),
                     matmul(pooled, head) + vit.tensor("head.bias")) < 1e-12);
  REQUIRE_THROWS_WITH(vit.forward(random64({1, 6, 4, 3}, gen)), Catch::Contains("must be (B, 4, 6, 3)"));
}

TEST_CASE("ViT gradients: cross-entropy reaches every parameter once the head is non-zero") {
  Generator gen(5);
  ViTConfig c = small_config();
  c.depth = 1;
  c.posemb = PositionEmbeddingKind::learned;
  ViT vit(c, gen);
  {
    NoGrad off;
    copy_(vit.tensor("head.kernel"), random64({8, 5}, gen));
  }
  Tensor images = random64({2, 4, 6, 3}, gen);
  Tensor labels = from_vector(std::vector<std::int64_t>{1, 4}, {2});
  Tensor loss = softmax_cross_entropy(vit.forward(images), labels);
  loss.backward();
  for (const auto& [name, t] : vit.named_parameters()) {
    INFO(name);
    REQUIRE(t.grad().defined());
    CHECK(test::max_abs(t.grad()) > 0);
  }
  // Finite differences through the whole model, w.r.t. the images and two parameters.
  auto f = [&](const std::vector<Tensor>& a) {
    return functional_call(vit, {{"embedding.kernel", a[1]}, {"blocks.0.layer.key.kernel", a[2]}}, a[0]);
  };
  auto r = gradcheck(f, {images, vit.tensor("embedding.kernel").detach() * 1.0,
                         vit.tensor("blocks.0.layer.key.kernel").detach() * 1.0});
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("frozen patterns from the config are applied and counted") {
  Generator gen(6);
  ViTConfig c = small_config();
  c.frozen = {"blocks.*.layer.*", "head.bias"};
  ViT vit(c, gen);
  ParameterCount n = vit.count_parameters();
  CHECK(n.frozen == 2 * 4 * (64 + 8) + 5);
  CHECK(n.trainable + n.frozen == n.total);
  CHECK(vit.is_frozen("blocks.1.layer.value.kernel"));
  CHECK_FALSE(vit.tensor("blocks.1.layer.value.kernel").requires_grad());
  c.frozen = {"blocks.*.layer.inner.*"};
  REQUIRE_THROWS_WITH(ViT(c, gen), Catch::Contains("frozen pattern 'blocks.*.layer.inner.*' matches no parameter"));
}

TEST_CASE("a ViT of another drop-in layer, and without pre-logits") {
  Generator gen(7);
  ViTConfig c = small_config();
  c.layer = "linear_attention_elu";
  c.pre_logits = false;
  ViT vit(c, gen);
  CHECK(vit.contains("blocks.1.layer.proj.kernel"));
  CHECK_FALSE(vit.contains("pre_logits.kernel"));
  CHECK(vit.forward(random64({2, 4, 6, 3}, gen)).shape() == Shape{2, 5});
  CHECK(vit.block(1).layer().describe() == "LinearAttention(D 8, H 2, elu+1)");
  REQUIRE_THROWS_WITH(vit.block(2), Catch::Contains("block 2 does not exist; the model has 2"));
}
