// IDX files (LeCun's MNIST format), plain or gzip-compressed: a big-endian header (two zero
// bytes, a type byte, the number of dimensions, each dimension as a 32-bit integer) followed by
// the data. Only unsigned bytes (type 0x08) are supported; every check names the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace mttt::nn::data {

struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> data;  // row-major
  std::int64_t count() const;      // product of dims
};

// Reads a whole file (gzip or not). Errors name the file: missing, bad magic, unsupported type,
// truncated (what the header promises against what the file holds), trailing data.
IdxArray read_idx(const std::filesystem::path& path);

// Writes an array; gzip-compressed when the name ends in ".gz".
void write_idx(const std::filesystem::path& path, const IdxArray& array);

}  // namespace mttt::nn::data
