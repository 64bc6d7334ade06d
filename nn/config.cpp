#include "nn/config.hpp"

#include <fmt/format.h>

#include <fstream>

#include "nn/config_values.hpp"
#include "tensor/error.hpp"

namespace mttt::nn {

ViTConfig ViTConfig::tiny() { return ViTConfig{}; }

ViTConfig ViTConfig::small() {
  return ViTConfig{.variant = "s", .width = 384, .heads = 6, .mlp_dim = 1536, .frozen = {}};
}

std::string ViTConfig::name() const {
  const std::string v = variant == "ti" ? "Ti" : variant == "s" ? "S" : variant;
  return fmt::format("ViT-{}/{}", v, patch);
}

void ViTConfig::validate() const {
  check(width > 0 && depth > 0 && heads > 0 && mlp_dim > 0, "config",
        "model sizes must be positive: width {}, depth {}, heads {}, mlp_dim {}", width, depth, heads, mlp_dim);
  check(width % heads == 0, "config", "model: width {} is not divisible by heads {}", width, heads);
  check(patch > 0 && image_height > 0 && image_width > 0 && image_height % patch == 0 && image_width % patch == 0,
        "config", "model: image {}x{} does not split into {}x{} patches", image_height, image_width, patch, patch);
  check(channels > 0 && classes > 0, "config", "model: channels {} and classes {} must be positive", channels, classes);
  check(posemb != PositionEmbeddingKind::sincos || (width % 4 == 0 && width >= 8), "config",
        "model: the sin-cos position embedding needs a width divisible by 4 (at least 8), got {}", width);
  check(dtype != DType::int64, "config", "model: dtype must be float32 or float64");
}

nlohmann::json ViTConfig::to_json() const {
  nlohmann::json layer_json = layer;
  if (!layer_options.empty()) {
    layer_json = layer_options;
    layer_json["kind"] = layer;
  }
  return {{"variant", variant},
          {"width", width},
          {"depth", depth},
          {"heads", heads},
          {"mlp_dim", mlp_dim},
          {"patch", patch},
          {"image", {image_height, image_width}},
          {"channels", channels},
          {"classes", classes},
          {"layer", layer_json},
          {"posemb", position_embedding_name(posemb)},
          {"pre_logits", pre_logits},
          {"dtype", std::string(to_string(dtype))},
          {"frozen", frozen}};
}

namespace {

const std::vector<std::string> kModelKeys = {"variant",  "width",   "depth", "heads",  "mlp_dim",    "patch", "image",
                                             "channels", "classes", "layer", "posemb", "pre_logits", "dtype", "frozen"};

const char* const kSizeKeys[] = {"width", "depth", "heads", "mlp_dim"};

std::int64_t& size_of(ViTConfig& c, std::string_view key) {
  if (key == "width") return c.width;
  if (key == "depth") return c.depth;
  if (key == "heads") return c.heads;
  return c.mlp_dim;
}

// Sizes: large enough for any ViT, small enough that products of a few of them stay in int64.
constexpr std::int64_t kMaxSize = 1 << 20;

std::int64_t positive_int(const nlohmann::json& model, const char* key, const std::string& where) {
  return read_integer(model.at(key), where + "." + key, 1, kMaxSize);
}

std::string string_of(const nlohmann::json& v, const std::string& what) { return read_string(v, what); }

}  // namespace

ViTConfig parse_vit_config(const nlohmann::json& model, const std::string& where) {
  check_keys(model, where, kModelKeys);
  // A variant or size given as null (complete_model_section) is as if not given.
  auto given = [&](const char* key) { return model.contains(key) && !model[key].is_null(); };
  ViTConfig c;
  if (given("variant")) {
    std::string v = string_of(model["variant"], where + ".variant");
    if (v == "ti" || v == "tiny") {
      c = ViTConfig::tiny();
    } else if (v == "s" || v == "small") {
      c = ViTConfig::small();
    } else if (v == "custom") {
      c.variant = "custom";
      for (const char* key : kSizeKeys)
        check(given(key), "config", "{}: variant 'custom' needs width, depth, heads and mlp_dim; '{}' is missing", where,
              key);
    } else {
      fail("config", "{}.variant '{}' is unknown; valid: ti (tiny), s (small), custom", where, v);
    }
  }
  ViTConfig preset = c;
  for (const char* key : kSizeKeys) {
    if (!given(key)) continue;
    std::int64_t& size = size_of(c, key);
    size = positive_int(model, key, where);
    // A named preset and explicit sizes must not disagree: the config would name one model and
    // build another. Without a variant, sizes start from ViT-Tiny's and the model is custom.
    if (size == size_of(preset, key) || c.variant == "custom") continue;
    check(!given("variant"), "config", "{}: variant '{}' has {} {}, but {}.{} is {}: drop the size, or make the variant 'custom'",
          where, c.variant, key, size_of(preset, key), where, key, size);
    c.variant = "custom";
  }
  if (model.contains("patch")) c.patch = positive_int(model, "patch", where);
  if (model.contains("channels")) c.channels = positive_int(model, "channels", where);
  if (model.contains("classes")) c.classes = positive_int(model, "classes", where);
  if (model.contains("image")) {
    const auto& image = model["image"];
    auto side = [&](const nlohmann::json& v) { return read_integer(v, where + ".image", 1, kMaxSize); };
    if (image.is_array()) {
      check(image.size() == 2, "config", "{}.image must be a positive integer or [height, width], got {}", where,
            image.dump());
      c.image_height = side(image[0]);
      c.image_width = side(image[1]);
    } else {
      c.image_height = c.image_width = side(image);
    }
  }
  if (model.contains("layer")) {
    const auto& layer = model["layer"];
    if (layer.is_object()) {
      check(layer.contains("kind"), "config", "{}.layer as an object needs a 'kind', got {}", where, layer.dump());
      c.layer = string_of(layer["kind"], where + ".layer.kind");
      c.layer_options = layer;
      c.layer_options.erase("kind");
    } else {
      c.layer = string_of(layer, where + ".layer (a kind, or an object with a kind)");
    }
  }
  if (model.contains("posemb")) c.posemb = parse_position_embedding(string_of(model["posemb"], where + ".posemb"));
  if (model.contains("pre_logits")) {
    c.pre_logits = read_bool(model["pre_logits"], where + ".pre_logits");
  }
  if (model.contains("dtype")) {
    std::string d = string_of(model["dtype"], where + ".dtype");
    check(d == "float32" || d == "float64", "config", "{}.dtype '{}' is unknown; valid: float32, float64", where, d);
    c.dtype = d == "float32" ? DType::float32 : DType::float64;
  }
  if (model.contains("frozen")) {
    const auto& frozen = model["frozen"];
    check(frozen.is_array(), "config", "{}.frozen must be a list of name patterns, got {}", where, frozen.dump());
    for (const auto& p : frozen) c.frozen.push_back(string_of(p, where + ".frozen[]"));
  }
  c.validate();
  return c;
}

nlohmann::json complete_model_section(const nlohmann::json& model) {
  nlohmann::json out = ViTConfig().to_json();
  for (const char* key : {"variant", "width", "depth", "heads", "mlp_dim"}) out[key] = nullptr;
  if (model.is_object())
    for (const auto& [key, value] : model.items()) out[key] = value;
  return out;
}

ViTConfig load_vit_config(const std::string& path) {
  std::ifstream in(path);
  check(in.good(), "config", "cannot open {}", path);
  const nlohmann::json j = parse_json(in, path);
  check(j.is_object() && j.contains("model"), "config", "{}: needs a \"model\" section", path);
  return parse_vit_config(j["model"], path + ": model");
}

}  // namespace mttt::nn
