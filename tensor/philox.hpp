// Philox-4x32-10 (Salmon et al. 2011) and the conversions to uniform and normal numbers, as
// inline functions that host and device code share: element i of a random tensor is the same
// number on every backend. tensor/random.hpp is the public interface.
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/host_device.hpp"

namespace mttt::philox {

struct Block {
  std::uint32_t w[4];
};

MTTT_HD inline Block rounds(Block c, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = std::uint64_t{kMul0} * c.w[0];
    const std::uint64_t p1 = std::uint64_t{kMul1} * c.w[2];
    c = Block{{static_cast<std::uint32_t>(p1 >> 32) ^ c.w[1] ^ k0, static_cast<std::uint32_t>(p1),
               static_cast<std::uint32_t>(p0 >> 32) ^ c.w[3] ^ k1, static_cast<std::uint32_t>(p0)}};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return c;
}

// The block of counter `counter` under key `seed`.
MTTT_HD inline Block at(std::uint64_t seed, std::uint64_t counter) {
  return rounds(Block{{static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0, 0}},
                static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// Uniform in [0, 1) with 24 or 53 random bits.
MTTT_HD inline float unit_float(std::uint32_t x) { return static_cast<float>(x >> 8) * 0x1.0p-24f; }
MTTT_HD inline double unit_double(std::uint32_t hi, std::uint32_t lo) {
  return static_cast<double>(((std::uint64_t{hi} << 32) | lo) >> 11) * 0x1.0p-53;
}

MTTT_HD inline float uniform_float(std::uint64_t seed, std::uint64_t counter) { return unit_float(at(seed, counter).w[0]); }
MTTT_HD inline double uniform_double(std::uint64_t seed, std::uint64_t counter) {
  const Block b = at(seed, counter);
  return unit_double(b.w[0], b.w[1]);
}
// Box-Muller on the block's words; 1 - u keeps the logarithm's argument in (0, 1].
MTTT_HD inline double normal_double(std::uint64_t seed, std::uint64_t counter) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  const Block b = at(seed, counter);
  const double u1 = 1.0 - unit_double(b.w[0], b.w[1]);
  const double u2 = unit_double(b.w[2], b.w[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

}  // namespace mttt::philox
