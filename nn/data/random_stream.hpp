// Random decisions of the data pipeline. Every one is a pure function of (seed, purpose, epoch,
// index), drawn from the library's counter-based Philox, so that the pipeline's output does not
// depend on thread scheduling, and a run resumed at any step sees the same data.
#pragma once

#include <cstdint>

#include "tensor/random.hpp"

namespace mttt::nn::data {

enum class Purpose : std::uint32_t { shuffle = 1, augment = 2, mixup = 3 };

// The stream of draws for one (seed, purpose, epoch, index); up to 2^32 draws each.
PhiloxStream derive_stream(std::uint64_t seed, Purpose purpose, std::uint64_t epoch, std::uint64_t index);

// Successive draws from one stream.
class RandomStream {
 public:
  explicit RandomStream(PhiloxStream stream) : stream_(stream) {}
  RandomStream(std::uint64_t seed, Purpose purpose, std::uint64_t epoch, std::uint64_t index)
      : stream_(derive_stream(seed, purpose, epoch, index)) {}

  // Uniform in [0, 1).
  double uniform() { return philox_uniform<double>(stream_, next_++); }
  // Uniform in [0, 1) with float's 24 bits (TensorFlow's float draws).
  float uniform_float() { return philox_uniform<float>(stream_, next_++); }
  // Uniform integer in [0, n); n > 0.
  std::uint32_t below(std::uint32_t n);
  double normal() { return philox_normal<double>(stream_, next_++); }
  // Logarithm of a Gamma(shape, 1) draw (logarithms keep shapes well below 1 from underflowing).
  double log_gamma_draw(double shape);
  // Beta(a, b), from two Gamma draws.
  double beta(double a, double b);

  std::uint64_t draws() const { return next_; }

 private:
  PhiloxStream stream_;
  std::uint64_t next_ = 0;
};

}  // namespace mttt::nn::data
