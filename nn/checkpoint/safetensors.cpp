#include "nn/checkpoint/safetensors.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "nn/checkpoint/file_write.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

namespace {

const char* dtype_code(DType dtype) {
  switch (dtype) {
    case DType::float32: return "F32";
    case DType::float64: return "F64";
    case DType::int64: return "I64";
  }
  return "?";
}

float half_to_float(std::uint16_t h) {
  std::uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  std::uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exponent = 127 - 15 + 1;
      while (!(mantissa & 0x400)) {
        mantissa <<= 1;
        --exponent;
      }
      bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(std::uint16_t b) {
  std::uint32_t bits = std::uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

const Tensor& SafetensorsFile::at(const std::string& name) const {
  for (const auto& [key, t] : tensors)
    if (key == name) return t;
  fail("safetensors", "{}: no tensor named '{}'", path, name);
}

bool SafetensorsFile::contains(const std::string& name) const {
  for (const auto& [key, t] : tensors)
    if (key == name) return true;
  return false;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<std::vector<char>> blobs;
  std::size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    check(name != "__metadata__" && !header.contains(name), "safetensors", "{}: duplicate or reserved name '{}'", path,
          name);
    Tensor host = contiguous(t.detach());
    std::vector<char> bytes(static_cast<std::size_t>(host.numel()) * itemsize(host.dtype()));
    copy_to_host(host, bytes.data());
    header[name] = {{"dtype", dtype_code(host.dtype())},
                    {"shape", host.shape().vec()},
                    {"data_offsets", {offset, offset + bytes.size()}}};
    offset += bytes.size();
    blobs.push_back(std::move(bytes));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  const std::uint64_t length = text.size();

  char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  std::vector<std::string_view> pieces = {std::string_view(le, 8), text};
  for (const auto& b : blobs) pieces.emplace_back(b.data(), b.size());
  write_file_atomically(path, pieces, "safetensors");
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "safetensors", "cannot open {}", path);
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  check(file_size >= 8, "safetensors", "{}: {} bytes is too short for a safetensors file", path, file_size);
  unsigned char le[8];
  in.read(reinterpret_cast<char*>(le), 8);
  std::uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= std::uint64_t{le[i]} << (8 * i);
  check(length <= file_size - 8, "safetensors", "{}: header claims {} bytes but the file has {} after the length",
        path, length, file_size - 8);
  std::string text(length, '\0');
  in.read(text.data(), static_cast<std::streamsize>(length));
  SafetensorsHeader header = parse_safetensors_header(text, file_size - 8 - length, path);

  SafetensorsFile file;
  file.path = path;
  file.metadata = std::move(header.metadata);
  for (const SafetensorsEntry& e : header.entries) {
    const std::uint64_t bytes = e.bytes;

    std::vector<char> raw(bytes);
    in.seekg(static_cast<std::streamoff>(8 + length + e.begin));
    in.read(raw.data(), static_cast<std::streamsize>(bytes));
    check(static_cast<std::uint64_t>(in.gcount()) == bytes, "safetensors", "{}: tensor '{}' is truncated", path, e.name);
    Tensor t;
    if (e.dtype == "F32" || e.dtype == "F64" || e.dtype == "I64") {
      DType dtype = e.dtype == "F32" ? DType::float32 : e.dtype == "F64" ? DType::float64 : DType::int64;
      t = from_host(raw.data(), e.shape, {dtype});
    } else if (e.dtype == "I32") {
      std::vector<std::int64_t> v(numel(e.shape));
      for (std::size_t i = 0; i < v.size(); ++i) {
        std::int32_t x;
        std::memcpy(&x, raw.data() + 4 * i, 4);
        v[i] = x;
      }
      t = from_vector(v, e.shape, {DType::int64});
    } else {
      std::vector<float> v(numel(e.shape));
      for (std::size_t i = 0; i < v.size(); ++i) {
        std::uint16_t x;
        std::memcpy(&x, raw.data() + 2 * i, 2);
        v[i] = e.dtype == "F16" ? half_to_float(x) : bf16_to_float(x);
      }
      t = from_vector(v, e.shape, {DType::float32});
    }
    file.tensors.emplace_back(e.name, t);
  }
  return file;
}

}  // namespace mttt::nn
