// The model section of a config file: a ViT (variant or custom sizes), its input, and the
// drop-in layer by name. docs/config.md documents the schema; examples/configs/ has examples.
//
//   {"model": {"variant": "s", "patch": 16, "image": 224, "channels": 3, "classes": 1000,
//              "layer": "self_attention", "posemb": "sincos"}}
//
// Unknown keys are errors that name the valid ones.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/layers/position_embedding.hpp"
#include "tensor/dtype.hpp"

namespace mttt::nn {

struct ViTConfig {
  std::string variant = "ti";  // ti, s or custom: a name; the sizes below are what counts
  std::int64_t width = 192, depth = 12, heads = 3, mlp_dim = 768;
  std::int64_t patch = 16, image_height = 224, image_width = 224, channels = 3, classes = 1000;
  PositionEmbeddingKind posemb = PositionEmbeddingKind::sincos;
  std::string layer = "self_attention";                     // a token-mixer kind
  nlohmann::json layer_options = nlohmann::json::object();  // that kind's own options
  bool pre_logits = true;                                   // tanh pre-logits dense D -> D
  DType dtype = DType::float32;
  std::vector<std::string> frozen;  // glob patterns of frozen parameters

  // The spec's presets: ViT-Tiny (D 192, depth 12, H 3, mlp 768), ViT-Small (384, 12, 6, 1536).
  static ViTConfig tiny();
  static ViTConfig small();

  std::int64_t grid_rows() const { return image_height / patch; }
  std::int64_t grid_cols() const { return image_width / patch; }
  std::int64_t tokens() const { return grid_rows() * grid_cols(); }
  // "ViT-S/16", "ViT-Ti/1", "ViT-custom/4"
  std::string name() const;
  // Throws naming the first inconsistency (heads not dividing the width, patch not dividing the image, ...).
  void validate() const;
  nlohmann::json to_json() const;
};

// `model` is the model section; `where` names it in messages ("config.json: model"). A named
// preset (ti, s) fixes the four sizes: a size that disagrees with it is refused, naming both.
// Without a variant the sizes start from ViT-Tiny's, and other sizes make the model custom.
ViTConfig parse_vit_config(const nlohmann::json& model, const std::string& where = "model");
// The model section with every key, for `--set` overrides: the given keys, the defaults for the
// others, and null for a variant and sizes not given (the sizes then follow the variant, so that
// overriding the variant changes them). The section itself is not checked here.
nlohmann::json complete_model_section(const nlohmann::json& model);
// The "model" section of a JSON file (other sections are left to their readers).
ViTConfig load_vit_config(const std::string& path);

}  // namespace mttt::nn
