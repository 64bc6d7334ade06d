// Counter-based random numbers (Philox-4x32-10, Salmon et al. 2011). Element i of a random
// tensor is a pure function of (seed, offset + i), so a seed gives the same numbers whatever
// the thread count, and on every device.
#pragma once

#include <array>
#include <cstdint>

namespace mttt {

// One Philox-4x32-10 block: four 32-bit words from a 128-bit counter and a 64-bit key.
std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key);

// Where a random tensor draws from: its key and the first counter.
struct PhiloxStream {
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;
};

// Uniform in [0, 1) and standard normal for element `index` of a stream.
template <class T> T philox_uniform(const PhiloxStream& stream, std::uint64_t index);
template <class T> T philox_normal(const PhiloxStream& stream, std::uint64_t index);

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(std::uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const { return offset_; }
  // Reserves `count` counters and returns the stream that starts at them.
  PhiloxStream take(std::uint64_t count) {
    PhiloxStream s{seed_, offset_};
    offset_ += count;
    return s;
  }

 private:
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

// The process-wide generator used when none is passed.
Generator& default_generator();
void manual_seed(std::uint64_t seed);

}  // namespace mttt
