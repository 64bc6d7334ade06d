// IDX files: round trips (plain and gzip) and the errors that name the file.
#include <catch2/catch.hpp>

#include <fstream>

#include "nn/data/idx.hpp"
#include "nn/data/jpeg.hpp"
#include "test_util.hpp"

using namespace mttt;
using namespace mttt::nn::data;

namespace {
IdxArray sample(std::int64_t n) {
  IdxArray a;
  a.dims = {n, 3, 2};
  for (std::int64_t i = 0; i < a.count(); ++i) a.data.push_back(static_cast<std::uint8_t>(i * 7));
  return a;
}
}  // namespace

TEST_CASE("IDX files round-trip, gzip-compressed or not") {
  TempDir dir;
  for (const char* name : {"images-idx3-ubyte.gz", "images-idx3-ubyte"}) {
    const auto path = dir.path() / name;
    write_idx(path, sample(5));
    const IdxArray back = read_idx(path);
    CHECK(back.dims == sample(5).dims);
    CHECK(back.data == sample(5).data);
  }
  IdxArray labels{{4}, {9, 0, 0, 3}};
  write_idx(dir.path() / "labels.gz", labels);
  CHECK(read_idx(dir.path() / "labels.gz").data == labels.data);
  // The gzip file is compressed: it starts with gzip's magic bytes.
  const auto bytes = read_file(dir.path() / "images-idx3-ubyte.gz");
  REQUIRE(bytes.size() > 2);
  CHECK((bytes[0] == 0x1f && bytes[1] == 0x8b));
}

TEST_CASE("a truncated IDX file is an error that names the file and the counts") {
  TempDir dir;
  const auto full = dir.path() / "full-idx3-ubyte";
  write_idx(full, sample(10));
  auto bytes = read_file(full);
  bytes.resize(bytes.size() - 6 * 3 - 2);  // 3 whole images and a part missing
  const auto cut = dir.path() / "cut-idx3-ubyte";
  write_file(cut, bytes);
  REQUIRE_THROWS_WITH(read_idx(cut), Catch::Contains(cut.string()) && Catch::Contains("truncated") &&
                                         Catch::Contains("10 images of 3x2") && Catch::Contains("file holds 6"));

  // The same inside a gzip stream cut short.
  const auto gz = dir.path() / "full.gz";
  write_idx(gz, sample(1000));
  auto gz_bytes = read_file(gz);
  gz_bytes.resize(gz_bytes.size() / 2);
  const auto gz_cut = dir.path() / "cut.gz";
  write_file(gz_cut, gz_bytes);
  REQUIRE_THROWS_WITH(read_idx(gz_cut), Catch::Contains(gz_cut.string()) && Catch::Contains("truncated"));

  // A header cut inside its dimensions.
  write_file(cut, {0, 0, 8, 3, 0, 0});
  REQUIRE_THROWS_WITH(read_idx(cut), Catch::Contains(cut.string()) && Catch::Contains("truncated"));
}

TEST_CASE("bad magic, unsupported types, trailing data and missing files are errors naming the file") {
  TempDir dir;
  const auto bad = dir.path() / "bad-magic";
  write_file(bad, {'P', 'K', 3, 4, 0, 0, 0, 0});
  REQUIRE_THROWS_WITH(read_idx(bad), Catch::Contains(bad.string()) && Catch::Contains("bad magic"));
  const auto floats = dir.path() / "floats";
  write_file(floats, {0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0});
  REQUIRE_THROWS_WITH(read_idx(floats), Catch::Contains(floats.string()) && Catch::Contains("0x0d"));
  const auto longer = dir.path() / "longer";
  write_file(longer, {0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3});
  REQUIRE_THROWS_WITH(read_idx(longer), Catch::Contains(longer.string()) && Catch::Contains("more data"));
  const auto missing = dir.path() / "missing.gz";
  REQUIRE_THROWS_WITH(read_idx(missing), Catch::Contains(missing.string()) && Catch::Contains("no such file"));
}

TEST_CASE("an IDX header claiming more than the file holds is refused without allocating the claim") {
  const auto path = std::filesystem::temp_directory_path() / "mttt_idx_claim.idx";
  // 150 bytes claiming 12 GB (3000 x 2000 x 2000): read in chunks, refused as truncated.
  std::string bytes = {0, 0, 8, 3};
  for (std::uint32_t d : {3000u, 2000u, 2000u})
    for (int s = 24; s >= 0; s -= 8) bytes.push_back(static_cast<char>((d >> s) & 0xff));
  bytes.append(150 - bytes.size(), '\x01');
  std::ofstream(path, std::ios::binary) << bytes;
  REQUIRE_THROWS_WITH(read_idx(path), Catch::Contains(path.string()) && Catch::Contains("truncated"));
  // Dimensions whose product overflows 64 bits.
  bytes = {0, 0, 8, 3};
  for (int i = 0; i < 3; ++i) bytes += std::string("\xff\xff\xff\xff", 4);
  std::ofstream(path, std::ios::binary) << bytes;
  REQUIRE_THROWS_WITH(read_idx(path), Catch::Contains(path.string()) && Catch::Contains("overflow"));
}
