// The model section of a config: presets, custom sizes, the layer slot, and errors that name
// the valid choices.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "nn/config.hpp"

using namespace mttt;
using namespace mttt::nn;
using nlohmann::json;

TEST_CASE("presets and the spec's example configs") {
  ViTConfig ti = parse_vit_config(json::parse(R"({"variant": "ti", "patch": 1, "image": 224, "channels": 3,
      "classes": 1000, "layer": "linear_attention", "posemb": "learned"})"));
  CHECK(ti.width == 192);
  CHECK(ti.depth == 12);
  CHECK(ti.heads == 3);
  CHECK(ti.mlp_dim == 768);
  CHECK(ti.tokens() == 224 * 224);
  CHECK(ti.layer == "linear_attention");
  CHECK(ti.posemb == PositionEmbeddingKind::learned);
  CHECK(ti.name() == "ViT-Ti/1");
  ViTConfig s = parse_vit_config(json::parse(R"({"variant": "small"})"));
  CHECK(s.width == 384);
  CHECK(s.heads == 6);
  CHECK(s.mlp_dim == 1536);
  CHECK(s.tokens() == 196);
  CHECK(s.name() == "ViT-S/16");
  CHECK(s.posemb == PositionEmbeddingKind::sincos);
  // A round trip through JSON.
  ViTConfig back = parse_vit_config(s.to_json());
  CHECK(back.to_json() == s.to_json());
}

TEST_CASE("custom sizes, rectangular images, layer options, dtype and frozen patterns") {
  ViTConfig c = parse_vit_config(json::parse(R"({"variant": "custom", "width": 64, "depth": 2, "heads": 4,
      "mlp_dim": 128, "patch": 4, "image": [28, 32], "channels": 1, "classes": 10,
      "layer": {"kind": "mttt_mlp", "steps": 4}, "dtype": "float64", "frozen": ["blocks.*.layer.inner.*"],
      "pre_logits": false})"));
  CHECK(c.width == 64);
  CHECK(c.grid_rows() == 7);
  CHECK(c.grid_cols() == 8);
  CHECK(c.layer == "mttt_mlp");
  CHECK(c.layer_options == json{{"steps", 4}});
  CHECK(c.dtype == DType::float64);
  CHECK(c.frozen == std::vector<std::string>{"blocks.*.layer.inner.*"});
  CHECK_FALSE(c.pre_logits);
  CHECK(parse_vit_config(c.to_json()).to_json() == c.to_json());
  // A preset with other sizes is custom.
  CHECK(parse_vit_config(json::parse(R"({"variant": "ti", "depth": 6})")).variant == "custom");
}

TEST_CASE("config errors name the key and the valid choices") {
  auto error = [](const char* text) {
    try {
      parse_vit_config(json::parse(text), "model");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error(R"({"widht": 3})"),
             Catch::Contains("unknown key 'widht'") && Catch::Contains("valid keys: variant, width"));
  CHECK_THAT(error(R"({"variant": "base"})"),
             Catch::Contains("'base' is unknown; valid: ti (tiny), s (small), custom"));
  CHECK_THAT(error(R"({"variant": "custom", "width": 64})"), Catch::Contains("'depth' is missing"));
  CHECK_THAT(error(R"({"patch": "16"})"), Catch::Contains("model.patch must be a positive integer, got \"16\""));
  CHECK_THAT(error(R"({"patch": 0})"), Catch::Contains("positive integer"));
  CHECK_THAT(error(R"({"patch": 15})"), Catch::Contains("image 224x224 does not split into 15x15 patches"));
  CHECK_THAT(error(R"({"heads": 5})"), Catch::Contains("width 192 is not divisible by heads 5"));
  CHECK_THAT(error(R"({"image": [1, 2, 3]})"), Catch::Contains("[height, width]"));
  CHECK_THAT(error(R"({"layer": {"steps": 2}})"), Catch::Contains("needs a 'kind'"));
  CHECK_THAT(error(R"({"layer": 3})"), Catch::Contains("must be a string"));
  CHECK_THAT(error(R"({"posemb": "rope"})"), Catch::Contains("valid: sincos, learned"));
  CHECK_THAT(error(R"({"dtype": "bfloat16"})"), Catch::Contains("valid: float32, float64"));
  CHECK_THAT(error(R"({"frozen": "head.*"})"), Catch::Contains("list of name patterns"));
  CHECK_THAT(error(R"({"pre_logits": 1})"), Catch::Contains("true or false"));
  CHECK_THAT(error(R"({"width": 190, "heads": 5})"), Catch::Contains("divisible by 4"));
}

TEST_CASE("load_vit_config reads the model section of a file") {
  const std::string path = "test_config_model.json";
  {
    std::ofstream out(path);
    out << R"({"model": {"variant": "s"}, "train": {"steps": 10}})";
  }
  CHECK(load_vit_config(path).width == 384);
  {
    std::ofstream out(path);
    out << R"({"train": {}})";
  }
  REQUIRE_THROWS_WITH(load_vit_config(path), Catch::Contains("needs a \"model\" section"));
  {
    std::ofstream out(path);
    out << R"({"model": {)";
  }
  REQUIRE_THROWS_WITH(load_vit_config(path), Catch::Contains("not valid JSON"));
  std::remove(path.c_str());
  REQUIRE_THROWS_WITH(load_vit_config("no/such/file.json"), Catch::Contains("cannot open no/such/file.json"));
}
