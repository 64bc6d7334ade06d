// libFuzzer target: the safetensors header parser and its checks (dtype, shape overflow, offsets
// against the data section). Input: 8 bytes little-endian data-section size, then the header JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "nn/checkpoint/safetensors.hpp"
#include "tensor/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t data_size = 0;
  for (int i = 0; i < 8; ++i) data_size |= std::uint64_t{data[i]} << (8 * i);
  try {
    const auto header = mttt::nn::parse_safetensors_header(
        std::string_view(reinterpret_cast<const char*>(data) + 8, size - 8), data_size, "fuzz");
    // What the loader relies on: the byte count is the true product (computed here in 128 bits,
    // so a count that wrapped around 64 bits is caught) and lies inside the data section.
    for (const auto& e : header.entries) {
      unsigned __int128 bytes = e.dtype == "F16" || e.dtype == "BF16" ? 2 : e.dtype == "F64" || e.dtype == "I64" ? 8 : 4;
      for (auto d : e.shape) bytes *= static_cast<std::uint64_t>(d);
      if (bytes != e.bytes || e.end > data_size || e.end - e.begin != e.bytes) __builtin_trap();
    }
  } catch (const mttt::Error&) {
  }
  return 0;
}
