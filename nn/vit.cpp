#include "nn/vit.hpp"

#include <fmt/format.h>

#include "tensor/tensor.hpp"

namespace mttt::nn {

Block::Block(std::int64_t width, std::int64_t mlp_dim, std::unique_ptr<TokenMixer> layer, Generator& gen, DType dtype) {
  ln1_ = &register_module("ln1", std::make_unique<LayerNorm>(width, dtype));
  layer_ = &register_module("layer", std::move(layer));
  ln2_ = &register_module("ln2", std::make_unique<LayerNorm>(width, dtype));
  mlp_ = &register_module("mlp", std::make_unique<Mlp>(width, mlp_dim, gen, dtype));
}

Tensor Block::forward(const Tensor& x) {
  Tensor mixed = layer_->forward(ln1_->forward(x));
  if (mixed.shape() != x.shape())
    fail("Block", "the layer {} returned {} for tokens {}", layer_->describe(), to_string(mixed.shape()),
         to_string(x.shape()));
  Tensor h = x + mixed;
  return h + mlp_->forward(ln2_->forward(h));
}

ViT::ViT(const ViTConfig& config, Generator& gen) : config_(config) {
  const ViTConfig& c = config_;
  c.validate();
  const std::int64_t D = c.width;
  embedding_ = &register_module("embedding", std::make_unique<PatchEmbedding>(c.patch, c.channels, D, gen, c.dtype));
  if (c.posemb == PositionEmbeddingKind::learned)
    register_parameter("pos_embedding", pos_embedding_, learned_position_embedding_init(c.tokens(), D, gen, c.dtype));
  else
    register_buffer("pos_embedding", pos_embedding_,
                    sincos_2d_position_embedding(c.grid_rows(), c.grid_cols(), D, c.dtype));

  auto& blocks = register_module("blocks", std::make_unique<ModuleList>());
  for (std::int64_t i = 0; i < c.depth; ++i) {
    TokenMixerSpec spec{c.layer, D, c.heads, c.tokens(), c.dtype, c.layer_options};
    blocks_.push_back(&blocks.append(std::make_unique<Block>(D, c.mlp_dim, make_token_mixer(spec, gen), gen, c.dtype)));
  }

  encoder_norm_ = &register_module("encoder_norm", std::make_unique<LayerNorm>(D, c.dtype));
  if (c.pre_logits)
    pre_logits_ = &register_module("pre_logits", std::make_unique<Linear>(D, D, gen, LinearOptions{.dtype = c.dtype}));
  LinearOptions zero{.kernel_init = init::zeros(), .bias_init = init::zeros(), .dtype = c.dtype};
  head_ = &register_module("head", std::make_unique<Linear>(D, c.classes, gen, zero));

  for (const auto& pattern : c.frozen)
    check(freeze(pattern) > 0, "config", "frozen pattern '{}' matches no parameter of {}", pattern, describe());
}

Tensor ViT::encode(const Tensor& images) {
  const ViTConfig& c = config_;
  check(images.rank() == 4 && images.size(1) == c.image_height && images.size(2) == c.image_width &&
            images.size(3) == c.channels,
        "ViT", "images {} must be (B, {}, {}, {}) (NHWC, the configured size)", to_string(images.shape()),
        c.image_height, c.image_width, c.channels);
  Tensor x = embedding_->forward(images) + pos_embedding_;  // (B, N, D)
  for (Block* block : blocks_) x = block->forward(x);
  return encoder_norm_->forward(x);
}

Tensor ViT::forward(const Tensor& images) {
  Tensor pooled = mean(encode(images), {1});  // global average pooling, (B, D)
  if (pre_logits_) pooled = tanh(pre_logits_->forward(pooled));
  return head_->forward(pooled);
}

Block& ViT::block(std::int64_t i) {
  check(i >= 0 && i < depth(), "ViT", "block {} does not exist; the model has {}", i, depth());
  return *blocks_[static_cast<std::size_t>(i)];
}

std::string ViT::describe() const {
  return fmt::format("{} ({}x{}x{}, {} classes, layer {})", config_.name(), config_.image_height, config_.image_width,
                     config_.channels, config_.classes, config_.layer);
}

}  // namespace mttt::nn
