// Measuring one drop-in layer at a given batch and sequence length: shared by the layer and
// the scaling sections.
#pragma once

#include <cstdint>

#include "tools/bench/mttt_sections.hpp"

namespace mttt::bench {

struct LayerRun {
  PhaseTimes times;  // forward, backward, step (training); eval (NoGrad forward)
  std::int64_t train_peak_bytes = 0, eval_peak_bytes = 0;  // beyond the bytes in use before
  double training_flops = 0;                               // products executed, whole batch
  LaunchStats train_counts, eval_counts;                   // of the last timed step, every device
};

// A layer's input: batch, tokens, width and heads.
struct LayerShape {
  std::int64_t batch = 8, tokens = 196, width = 192, heads = 3;
};

// `train`: forward + backward of sum(layer(y) * r); `eval`: the forward under NoGrad.
LayerRun measure_layer(const LayerCase& c, const LayerShape& shape, int repeats, int warmup, bool train, bool eval,
                       Device device = kCPU);
bool wanted(const MtttOptions& options, const std::string& name);

}  // namespace mttt::bench
