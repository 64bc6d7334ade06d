// The `optim` section of a training config and the one path from it to an optimiser. Every
// optimiser is a preset of the same chain (nn/optim/optimizer.hpp):
//
//   g <- clip_by_global_norm(g, clip_norm)
//   p <- p - m(s) * (lr * direction(g) + decay * p)      m(s): the schedule, warm-up included
//
//   big_vision  Adam (0.9, 0.999, 1e-8), decay = weight_decay on *.kernel   (the spec's chain)
//   adamw       Adam, decay = lr * weight_decay on *.kernel                  (PyTorch's AdamW)
//   adam        Adam, no weight decay
//   sgd         momentum, decay = lr * weight_decay on *.kernel
//
// A preset fills the keys left unset (weight_decay 1e-4, none for adam; momentum 0.9 for sgd);
// a key that the chosen optimiser does not use is refused, naming it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/optim/optimizer.hpp"

namespace mttt::nn {

struct OptimConfig {
  std::string optimizer = "big_vision";  // big_vision | adam | adamw | sgd
  double lr = 1e-3;
  std::string schedule = "cosine";       // m(s): cosine | linear | constant, after warmup_steps
  std::int64_t warmup_steps = 0;
  std::optional<double> weight_decay;    // unset: the preset's
  double clip_norm = 1.0;                // 0: none
  std::optional<double> momentum;        // sgd only; unset: 0.9
  double label_smoothing = 0;            // of the loss (nn/loss.hpp), not of the update

  static const std::vector<std::string>& optimizers();
  // Fills the unset keys from the preset; throws naming a key the optimiser does not use.
  void apply_preset();
};

// The optimiser of `config` (apply_preset() done) over `params`; `frozen` names get no update,
// the schedule spans `total_steps`.
std::unique_ptr<Optimizer> make_optimizer(const OptimConfig& config, NamedTensors params,
                                          std::vector<std::string> frozen, std::int64_t total_steps);

}  // namespace mttt::nn
