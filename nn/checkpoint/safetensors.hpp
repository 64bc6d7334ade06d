// The safetensors format (readable by PyTorch, JAX and NumPy): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}},
// then the raw little-endian data. Files are written atomically: to a temporary file beside the
// target, flushed, then renamed over it, so a crash never leaves a half-written checkpoint.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/named_tensors.hpp"
#include "tensor/shape.hpp"

namespace mttt::nn {

struct SafetensorsFile {
  NamedTensors tensors;  // in the file's order (by data offset)
  std::map<std::string, std::string> metadata;

  // The tensor called `name`; throws naming the file and the name when it is absent.
  const Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const;
  std::string path;
};

// Writes F32, F64 and I64 tensors (converted to contiguous host order).
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// One tensor's entry in a header, checked: a supported dtype, a shape whose byte count does not
// overflow and equals the span of its offsets, inside the data section, not overlapping.
struct SafetensorsEntry {
  std::string name, dtype;
  Shape shape;
  std::uint64_t begin, end;  // in the data section
  std::uint64_t bytes;
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // by data offset
  std::map<std::string, std::string> metadata;
};

// The header's JSON `text` parsed and checked against a data section of `data_size` bytes;
// throws naming `path` and the tensor. Reads nothing else (fuzz/fuzz_safetensors.cpp).
SafetensorsHeader parse_safetensors_header(std::string_view text, std::uint64_t data_size, const std::string& path);

// Reads F32, F64 and I64 tensors (and converts BF16, F16, I32 to float32 / int64). Every
// inconsistency — truncated file, bad header, overlapping or out-of-range offsets, a shape
// that disagrees with its byte count, duplicate names — throws naming the file and tensor.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace mttt::nn
