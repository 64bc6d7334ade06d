// The Vision Transformer around the drop-in layer (the spec's "The ViT around it", Beyer et
// al. 2022 as in the public code). Dimensions: B images, N tokens, D width.
//
//   x = embedding(images) + pos_embedding                 patches (or pixels) -> (B, N, D)
//   for each block:  y = ln1(x); x = x + layer(y); x = x + mlp(ln2(x))      (pre-LN)
//   logits = head(tanh(pre_logits(mean_N(encoder_norm(x)))))                global average pooling
//
// Parameter names as the spec's table: embedding.kernel, pos_embedding (learned only; the
// sin-cos one is a buffer), blocks.<i>.{ln1,layer,ln2,mlp}.*, encoder_norm.*, pre_logits.*,
// head.* (zero-initialised).
//
//   Generator gen(0);
//   ViT vit(ViTConfig::small(), gen);                     // or parse_vit_config(json)
//   Tensor logits = vit.forward(images);                  // images (B, 224, 224, 3) NHWC
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/config.hpp"
#include "nn/layers/layer_norm.hpp"
#include "nn/layers/linear.hpp"
#include "nn/layers/mlp.hpp"
#include "nn/layers/patch_embedding.hpp"
#include "nn/token_mixer.hpp"

namespace mttt::nn {

// One pre-LN block; `layer` is the drop-in slot.
class Block : public Module {
 public:
  Block(std::int64_t width, std::int64_t mlp_dim, std::unique_ptr<TokenMixer> layer, Generator& generator,
        DType dtype = DType::float32);
  Tensor forward(const Tensor& x);
  std::string describe() const override { return "Block"; }
  TokenMixer& layer() { return *layer_; }
  const TokenMixer& layer() const { return *layer_; }

 private:
  LayerNorm* ln1_;
  TokenMixer* layer_;
  LayerNorm* ln2_;
  Mlp* mlp_;
};

class ViT : public Module {
 public:
  // The drop-in layer of each block comes from make_token_mixer(config.layer, ...); the frozen
  // patterns of the config are applied (each must match some parameter).
  ViT(const ViTConfig& config, Generator& generator);
  // images (B, H, W, C) NHWC at the configured size -> logits (B, classes)
  Tensor forward(const Tensor& images);
  // The tokens after the final LayerNorm, (B, N, D).
  Tensor encode(const Tensor& images);
  std::string describe() const override;

  const ViTConfig& config() const { return config_; }
  std::int64_t depth() const { return static_cast<std::int64_t>(blocks_.size()); }
  Block& block(std::int64_t i);
  // The position embedding (1, N, D): the learned parameter or the fixed sin-cos buffer.
  const Tensor& position_embedding() const { return pos_embedding_; }

 private:
  ViTConfig config_;
  PatchEmbedding* embedding_;
  Tensor pos_embedding_;
  std::vector<Block*> blocks_;
  LayerNorm* encoder_norm_;
  Linear* pre_logits_ = nullptr;
  Linear* head_;
};

}  // namespace mttt::nn
