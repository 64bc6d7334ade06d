// Analytic FLOP counts reproduce the paper's ratios (docs/flops.md), and `mttt flops` prints them.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "mttt/flops.hpp"

using namespace mttt::ttt;

namespace {

double forward(const std::string& kind, std::int64_t N, std::int64_t D, std::int64_t H, std::int64_t M, std::int64_t P,
               int steps = 1, bool sgd = false) {
  ModelShape s;
  s.layer = {kind, N, D, H, steps, sgd};
  s.depth = 12;
  s.mlp_dim = M;
  s.patch_features = P;
  return totals(model_products(s)).forward;
}

double round1(double x) { return std::round(x * 10) / 10; }

}  // namespace

TEST_CASE("the paper's FLOP ratios: table 1 on ViT-S/16, table 3 on pixels") {
  const double la = forward("linear_attention", 196, 384, 6, 1536, 768);
  CHECK(round1(forward("mttt_linear", 196, 384, 6, 1536, 768) / la) == 1.1);
  CHECK(round1(forward("mttt_mlp", 196, 384, 6, 1536, 768) / la) == 1.5);
  CHECK(round1(forward("self_attention", 196, 384, 6, 1536, 768) / la) == 1.1);
  const double ti = forward("linear_attention", 50176, 192, 3, 768, 3);
  CHECK(round1(forward("linear_attention", 50176, 384, 6, 1536, 3) / ti) == 3.9);
  // SGD with T steps on N / T tokens each costs what one full-batch step costs.
  CHECK(forward("mttt_mlp", 50176, 192, 3, 768, 3, 4, true) == Approx(forward("mttt_mlp", 50176, 192, 3, 768, 3)));
  // Self-attention on pixels: a product count gives about 42x (the paper estimated "at least 200x").
  CHECK(forward("self_attention", 50176, 192, 3, 768, 3) / ti == Approx(42.2).epsilon(0.01));
}

TEST_CASE("training counts the outer backward, inner backward products included") {
  LayerShape mlp{"mttt_mlp", 196, 384, 6, 1, false};
  LayerShape linear{"linear_attention", 196, 384, 6, 1, false};
  auto t = totals(layer_products(mlp)), l = totals(layer_products(linear));
  CHECK(l.training == Approx(3 * l.forward));  // every product: itself and two cotangents
  CHECK(t.training > 2.5 * t.forward);
  REQUIRE_THROWS_WITH(layer_products({"softmax", 4, 8, 2, 1, false}), Catch::Contains("unknown layer 'softmax'"));
}

TEST_CASE("mttt flops prints the model's ratio to linear attention") {
  const char* exe = std::getenv("MTTT_EXE");
  const char* configs = std::getenv("MTTT_CONFIGS");
  REQUIRE(exe != nullptr);
  REQUIRE(configs != nullptr);
  std::string command = std::string(exe) + " flops --config " + configs +
                        "/vit_s16_self_attention.json --set model.layer=mttt_mlp 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  CHECK(pclose(pipe) == 0);
  CHECK_THAT(output, Catch::Contains("1.480x"));
}
