// The step a layer's randomness is keyed to. A trainer opens a RandomStep scope around each
// training step (and evaluation passes around theirs); a layer that draws random numbers per
// step (the SGD token orders of TTT layers) derives them from (stream, step), so that a run and
// its resumption from a checkpoint draw the same numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

namespace mttt::nn {

class RandomStep {
 public:
  RandomStep(std::uint64_t stream, std::uint64_t step);
  ~RandomStep();
  RandomStep(const RandomStep&) = delete;
  RandomStep& operator=(const RandomStep&) = delete;

  // (stream, step) of the innermost scope on this thread, if any.
  static std::optional<std::pair<std::uint64_t, std::uint64_t>> current();

 private:
  std::optional<std::pair<std::uint64_t, std::uint64_t>> previous_;
};

}  // namespace mttt::nn
