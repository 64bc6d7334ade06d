#include "tensor/random.hpp"

#include <cmath>

namespace mttt {

std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> ctr, std::array<std::uint32_t, 2> key) {
  constexpr std::uint32_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
  for (int round = 0; round < 10; ++round) {
    std::uint64_t p0 = std::uint64_t{kMul0} * ctr[0];
    std::uint64_t p1 = std::uint64_t{kMul1} * ctr[2];
    ctr = {static_cast<std::uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<std::uint32_t>(p1),
           static_cast<std::uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<std::uint32_t>(p0)};
    key[0] += kWeyl0;
    key[1] += kWeyl1;
  }
  return ctr;
}

namespace {
std::array<std::uint32_t, 4> block(const PhiloxStream& s, std::uint64_t index) {
  std::uint64_t c = s.offset + index;
  return philox4x32({static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c >> 32), 0, 0},
                    {static_cast<std::uint32_t>(s.seed), static_cast<std::uint32_t>(s.seed >> 32)});
}
// Uniform in [0, 1) with 24 or 53 random bits.
float to_unit_float(std::uint32_t x) { return static_cast<float>(x >> 8) * 0x1.0p-24f; }
double to_unit_double(std::uint32_t hi, std::uint32_t lo) {
  return static_cast<double>(((std::uint64_t{hi} << 32) | lo) >> 11) * 0x1.0p-53;
}
}  // namespace

template <> float philox_uniform<float>(const PhiloxStream& s, std::uint64_t i) { return to_unit_float(block(s, i)[0]); }
template <> double philox_uniform<double>(const PhiloxStream& s, std::uint64_t i) {
  auto w = block(s, i);
  return to_unit_double(w[0], w[1]);
}

// Box-Muller on the block's words; 1 - u keeps the logarithm's argument in (0, 1].
template <> double philox_normal<double>(const PhiloxStream& s, std::uint64_t i) {
  auto w = block(s, i);
  double u1 = 1.0 - to_unit_double(w[0], w[1]);
  double u2 = to_unit_double(w[2], w[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}
template <> float philox_normal<float>(const PhiloxStream& s, std::uint64_t i) {
  return static_cast<float>(philox_normal<double>(s, i));
}

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace mttt
