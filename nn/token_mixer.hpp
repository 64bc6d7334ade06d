// The drop-in slot of a ViT block: `y = LN(x); x = x + Layer(y)`. A TokenMixer is any layer
// that maps the block-normalised tokens y (B, N, D) to (B, N, D): self-attention, linear
// attention, and the TTT layers (mttt/). Kinds are made by name from a config:
//
//   auto layer = make_token_mixer({.kind = "linear_attention", .width = 192, .heads = 3, .tokens = 196}, gen);
//
// The built-in kinds are self_attention, linear_attention (identity map, normaliser N d) and
// linear_attention_elu (Katharopoulos et al.). Other folders add theirs with
// register_token_mixer (mttt/ registers its TTT layers) before configs name them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/module.hpp"
#include "tensor/random.hpp"

namespace mttt::nn {

class TokenMixer : public Module {
 public:
  // y: the block-normalised tokens (B, N, D) -> (B, N, D). Not const: a layer may keep state
  // (random token orders, statistics of its inner loop).
  virtual Tensor forward(const Tensor& y) = 0;
};

// What a factory needs to build one layer.
struct TokenMixerSpec {
  std::string kind;
  std::int64_t width = 0;   // D
  std::int64_t heads = 1;   // H
  std::int64_t tokens = 0;  // N, when the layer needs it (0: unknown)
  DType dtype = DType::float32;
  nlohmann::json options = nlohmann::json::object();  // the kind's own options, from the config
};

using TokenMixerFactory = std::function<std::unique_ptr<TokenMixer>(const TokenMixerSpec& spec, Generator& generator)>;

// Adds (or replaces) a kind. The factory checks spec.options itself and rejects unknown keys.
void register_token_mixer(const std::string& kind, TokenMixerFactory factory);
std::vector<std::string> token_mixer_kinds();
bool has_token_mixer(const std::string& kind);
// Throws naming the valid kinds when `spec.kind` is unknown.
std::unique_ptr<TokenMixer> make_token_mixer(const TokenMixerSpec& spec, Generator& generator);

}  // namespace mttt::nn
