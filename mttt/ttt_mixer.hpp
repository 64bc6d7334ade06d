// The TTT layers as drop-in token mixers of the ViT (nn/token_mixer.hpp): kinds "mttt_linear"
// and "mttt_mlp", with the spec's parameter names under the block's `layer.` prefix.
//
// Config options (TTTOptions::from_config, docs/config.md): steps (T), eta (a number or a list
// of T), sgd, decoder_ln, train_w0, init ("fixed" or "paper"). MTTT-Linear defaults to T = 1,
// W0 = 0 frozen, no decoder LN; MTTT-MLP to decoder LN on and W0 trained. The parameters are
// registered from the table of mttt/ttt_params.hpp.
//
// SGD draws one permutation of the tokens per layer, head and training step, shared by the
// batch. The step comes from the nn::RandomStep scope the trainer opens around each step
// (evaluation passes open one with their own stream), so that a run and its resumption see the
// same orders.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "mttt/ttt_layer.hpp"
#include "nn/inner_loss_reporter.hpp"
#include "nn/token_mixer.hpp"

namespace mttt::ttt {

class TTTMixer : public nn::TokenMixer, public nn::InnerLossReporter {
 public:
  TTTMixer(const TTTOptions& options, std::int64_t width, Generator& generator, DType dtype);
  Tensor forward(const Tensor& y) override;
  std::string describe() const override;
  const TTTOptions& options() const { return options_; }

  // The spec's per-layer statistics of the last forward, when collecting: T + 1 values, each
  // summed over heads and averaged over the batch.
  void collect_inner_losses(bool collect) override { collect_ = collect; }
  const std::vector<double>& inner_losses() const override { return last_inner_losses_; }

 private:
  Tensor permutation(std::int64_t tokens, Device device);

  TTTOptions options_;
  std::int64_t width_;
  std::uint64_t seed_;           // this layer's stream of token orders
  std::uint64_t own_steps_ = 0;  // without a RandomStep scope: this layer's count of forwards
  bool collect_ = false;
  std::vector<double> last_inner_losses_;
  // The parameters' slots, registered under child modules named by each dotted prefix (phi,
  // psi, g, h, decoder_ln, inner.0, inner.1).
  TTTParams params_;
};

// Adds the kinds mttt_linear and mttt_mlp to nn's token-mixer registry (idempotent).
void register_ttt_mixers();

}  // namespace mttt::ttt
