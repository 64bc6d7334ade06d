// A TTT layer's options: the learner, the heads and the inner loop's settings. A config's layer
// object (`{"kind": "mttt_mlp", "steps": 4, "sgd": true}`, docs/config.md) becomes typed options
// in from_config, the one place its keys are read; validate() holds every check on the options.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mttt/learner.hpp"

namespace mttt::ttt {

enum class InitScheme { fixed, paper };

struct TTTOptions {
  LearnerKind learner = LearnerKind::mlp;
  std::int64_t heads = 1;
  int steps = 1;              // T
  std::vector<double> eta;    // eta_t for t = 1..T; empty: 1 for every step
  bool sgd = false;           // mini-batch steps on a random split of the tokens (else full batch)
  bool decoder_ln = true;     // the "decoder LN" on the reconstruction
  bool train_w0 = true;       // false: W0 is not trained (MTTT-Linear: W0 = 0)
  InitScheme init = InitScheme::fixed;

  static TTTOptions mttt_linear(std::int64_t heads);
  static TTTOptions mttt_mlp(std::int64_t heads, int steps = 1, bool sgd = false);
  // The options of `kind` (mttt_linear or mttt_mlp) from a config's layer object without its
  // "kind"; every key typed and ranged, the message naming model.layer.<key>; then validate().
  static TTTOptions from_config(const std::string& kind, const nlohmann::json& options, std::int64_t heads,
                                std::int64_t width, std::int64_t tokens);
  static const std::vector<std::string>& config_keys();

  double eta_at(int t) const { return eta.empty() ? 1.0 : eta[static_cast<std::size_t>(t)]; }
  // Throws naming the problem: heads not dividing the width, T < 1, an eta count other than T,
  // a non-finite eta, and with SGD (tokens > 0: known) N not divisible by T.
  void validate(std::int64_t width, std::int64_t tokens = 0) const;
};

}  // namespace mttt::ttt
