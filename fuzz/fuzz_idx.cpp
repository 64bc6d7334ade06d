// libFuzzer target: the IDX reader (plain and gzip) on arbitrary files: every input is read or
// refused with mttt::Error, and memory follows the file, not the header's claim.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "nn/data/idx.hpp"
#include "tensor/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("mttt_fuzz_idx_" + std::to_string(::getpid()))).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    const auto array = mttt::nn::data::read_idx(path);
    if (static_cast<std::int64_t>(array.data.size()) != array.count()) __builtin_trap();
  } catch (const mttt::Error&) {
  }
  return 0;
}
