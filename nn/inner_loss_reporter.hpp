// Layers that learn at test time (the TTT layers of mttt/) report their inner loop: the loss
// after each of the T inner steps and at the end, T + 1 values for the last forward, each
// summed over heads and averaged over the batch. The trainer logs them (the paper's figures 1
// right, 3 and 4) without knowing the layer.
#pragma once

#include <vector>

namespace mttt::nn {

class InnerLossReporter {
 public:
  virtual ~InnerLossReporter() = default;
  // Collecting costs one more evaluation of the inner loss per forward.
  virtual void collect_inner_losses(bool collect) = 0;
  virtual const std::vector<double>& inner_losses() const = 0;
};

}  // namespace mttt::nn
