// The header half of nn/checkpoint/safetensors.hpp, apart so that it builds without the tensor
// library (the fuzz target fuzz/fuzz_safetensors.cpp links it alone).
#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "nn/checkpoint/safetensors.hpp"
#include "tensor/error.hpp"

namespace mttt::nn {

SafetensorsHeader parse_safetensors_header(std::string_view text, std::uint64_t data_size, const std::string& path) {
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail("safetensors", "{}: the header is not valid JSON ({})", path, e.what());
  }
  check(header.is_object(), "safetensors", "{}: the header is not a JSON object", path);
  SafetensorsHeader out;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      check(value.is_object(), "safetensors", "{}: __metadata__ must be an object of strings", path);
      for (const auto& [k, v] : value.items()) {
        check(v.is_string(), "safetensors", "{}: metadata '{}' is not a string", path, k);
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    try {
      SafetensorsEntry e{name, value.at("dtype").get<std::string>(),
                         Shape(value.at("shape").get<std::vector<std::int64_t>>()),
                         value.at("data_offsets").at(0).get<std::uint64_t>(),
                         value.at("data_offsets").at(1).get<std::uint64_t>(), 0};
      out.entries.push_back(std::move(e));
    } catch (const mttt::Error&) {
      throw;
    } catch (const std::exception& ex) {
      fail("safetensors", "{}: tensor '{}' has a malformed entry ({})", path, name, ex.what());
    }
  }
  auto& entries = out.entries;
  std::sort(entries.begin(), entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) { return a.begin < b.begin; });
  std::uint64_t previous_end = 0;
  for (SafetensorsEntry& e : entries) {
    std::size_t width = e.dtype == "F32" || e.dtype == "I32" ? 4 : e.dtype == "F64" || e.dtype == "I64" ? 8
                        : e.dtype == "F16" || e.dtype == "BF16"                                        ? 2
                                                                                                        : 0;
    check(width != 0, "safetensors", "{}: tensor '{}' has dtype {}; supported: F32, F64, I64, F16, BF16, I32", path,
          e.name, e.dtype);
    // The byte count from the shape, refusing a product that overflows (it could wrap to a
    // count that matches the offsets).
    std::uint64_t bytes = width;
    for (auto d : e.shape) {
      check(d >= 0, "safetensors", "{}: tensor '{}' has a negative dimension in {}", path, e.name, to_string(e.shape));
      check(!__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes) &&
                bytes <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
            "safetensors", "{}: tensor '{}' has shape {}, whose size overflows 64 bits", path, e.name,
            to_string(e.shape));
    }
    check(e.begin <= e.end && e.end <= data_size, "safetensors",
          "{}: tensor '{}' spans bytes [{}, {}) but the data section has {} (truncated file?)", path, e.name, e.begin,
          e.end, data_size);
    check(e.end - e.begin == bytes, "safetensors", "{}: tensor '{}' of shape {} and dtype {} needs {} bytes, has {}",
          path, e.name, to_string(e.shape), e.dtype, bytes, e.end - e.begin);
    check(e.begin >= previous_end, "safetensors", "{}: tensor '{}' overlaps the previous one", path, e.name);
    previous_end = e.end;
    e.bytes = bytes;
  }
  return out;
}

}  // namespace mttt::nn
