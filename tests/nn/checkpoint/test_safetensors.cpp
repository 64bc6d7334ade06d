// safetensors files: round trips, a file built byte by byte from the format's definition, and
// every kind of damage refused with the file and tensor named.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nn/checkpoint/safetensors.hpp"
#include "tensor/tensor.hpp"

using namespace mttt;
using namespace mttt::nn;
namespace fs = std::filesystem;

namespace {
std::string temp_path(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("mttt_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}
void write_bytes(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
}
}  // namespace

TEST_CASE("tensors and metadata round-trip through a safetensors file") {
  std::string path = temp_path("round.safetensors");
  Tensor a = uniform({2, 3}, -1, 1, {DType::float32});
  Tensor b = transpose(uniform({4, 2}, -1, 1, {DType::float64}));  // strided: written in row-major order
  Tensor c = arange(5, {DType::int64});
  Tensor s = full({}, 7, {DType::int64});
  Tensor e = zeros({0, 3});
  save_safetensors(path, {{"a", a}, {"b", b}, {"c", c}, {"step", s}, {"empty", e}}, {{"format", "mttt-1"}});
  auto file = load_safetensors(path);
  CHECK(file.metadata.at("format") == "mttt-1");
  CHECK(file.at("a").to_vector<float>() == a.to_vector<float>());
  CHECK(file.at("b").shape() == Shape{2, 4});
  CHECK(file.at("b").to_vector<double>() == b.to_vector<double>());
  CHECK(file.at("c").to_vector<std::int64_t>() == c.to_vector<std::int64_t>());
  CHECK(file.at("step").rank() == 0);
  CHECK(file.at("empty").shape() == Shape{0, 3});
  CHECK(file.tensors[0].first == "a");
  REQUIRE_THROWS_WITH(file.at("missing"), Catch::Contains("missing") && Catch::Contains(path));
  // Nothing is left beside the file.
  int entries = 0;
  for (auto& entry : fs::directory_iterator(fs::path(path).parent_path()))
    entries += entry.path().string().find(".tmp.") != std::string::npos;
  CHECK(entries == 0);
}

TEST_CASE("a file written from the format's definition reads back, F16 and BF16 included") {
  std::string path = temp_path("manual.safetensors");
  std::string data;
  float values[2] = {1.5f, -2.0f};
  data.append(reinterpret_cast<const char*>(values), 8);
  data.append("\x00\x3c\x00\xc0", 4);  // F16 1.0, -2.0
  data.append("\x80\x3f", 2);          // BF16 1.0
  write_bytes(path,
              R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("h":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},)"
              R"("g":{"dtype":"BF16","shape":[],"data_offsets":[12,14]},"__metadata__":{"k":"v"}})",
              data);
  auto file = load_safetensors(path);
  CHECK(file.at("x").to_vector<float>() == std::vector<float>{1.5f, -2.0f});
  CHECK(file.at("h").to_vector<float>() == std::vector<float>{1.0f, -2.0f});
  CHECK(file.at("g").item<float>() == 1.0f);
  CHECK(file.metadata.at("k") == "v");
}

TEST_CASE("damaged files are refused with the file and the tensor named") {
  std::string path = temp_path("bad.safetensors");
  write_bytes(path, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0'));
  REQUIRE_THROWS_WITH(load_safetensors(path), Catch::Contains(path) && Catch::Contains("'w'") && Catch::Contains("truncated"));
  write_bytes(path, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", std::string(16, '\0'));
  REQUIRE_THROWS_WITH(load_safetensors(path), Catch::Contains("'w'") && Catch::Contains("needs 12 bytes"));
  write_bytes(path, R"({"w":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}})", std::string(3, '\0'));
  REQUIRE_THROWS_WITH(load_safetensors(path), Catch::Contains("dtype U8"));
  write_bytes(path, R"({"w": not json)", "");
  REQUIRE_THROWS_WITH(load_safetensors(path), Catch::Contains("not valid JSON"));
  {
    std::ofstream out(path, std::ios::binary);
    const char bytes[] = "\xff\xff\xff\xff\x00\x00\x00\x00{}";
    out.write(bytes, sizeof bytes - 1);
  }
  REQUIRE_THROWS_WITH(load_safetensors(path), Catch::Contains("header claims"));
  REQUIRE_THROWS_WITH(load_safetensors(temp_path("absent.safetensors")), Catch::Contains("cannot open"));
  // 2^32 x 2^32 elements wrap to 0 in 64 bits, matching empty offsets: the product is checked.
  write_bytes(path, R"({"y":{"dtype":"F32","shape":[4294967296,4294967296,1],"data_offsets":[0,0]}})", "");
  REQUIRE_THROWS_WITH(load_safetensors(path), Catch::Contains("'y'") && Catch::Contains("overflows"));
  write_bytes(path, R"({"y":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})", "");
  REQUIRE_THROWS_WITH(load_safetensors(path), Catch::Contains("'y'") && Catch::Contains("overflows"));
}

TEST_CASE("a failed save leaves the previous file as it was") {
  std::string path = temp_path("keep.safetensors");
  save_safetensors(path, {{"v", full({2}, 3.0)}});
  REQUIRE_THROWS(save_safetensors(path, {{"v", full({2}, 4.0)}, {"v", full({2}, 5.0)}}));  // duplicate name
  CHECK(load_safetensors(path).at("v").to_vector<float>() == std::vector<float>{3.0f, 3.0f});
  REQUIRE_THROWS_WITH(save_safetensors("/nonexistent-dir/x.safetensors", {{"v", full({1}, 1.0)}}),
                      Catch::Contains("cannot write"));
}
