#include "tensor/random.hpp"

#include "tensor/philox.hpp"

namespace mttt {

std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> ctr, std::array<std::uint32_t, 2> key) {
  const philox::Block b = philox::rounds(philox::Block{{ctr[0], ctr[1], ctr[2], ctr[3]}}, key[0], key[1]);
  return {b.w[0], b.w[1], b.w[2], b.w[3]};
}

template <> float philox_uniform<float>(const PhiloxStream& s, std::uint64_t i) {
  return philox::uniform_float(s.seed, s.offset + i);
}
template <> double philox_uniform<double>(const PhiloxStream& s, std::uint64_t i) {
  return philox::uniform_double(s.seed, s.offset + i);
}
template <> double philox_normal<double>(const PhiloxStream& s, std::uint64_t i) {
  return philox::normal_double(s.seed, s.offset + i);
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
