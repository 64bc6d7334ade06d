#include "nn/data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "tensor/error.hpp"

namespace mttt::nn::data {

namespace {

constexpr std::uint8_t kUnsignedByte = 0x08;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

std::string gz_error(gzFile_s* f) {
  int code = 0;
  const char* message = gzerror(f, &code);
  return code == Z_OK ? std::string("read error") : std::string(message);
}

// Reads up to n bytes; returns how many arrived (fewer at the end of the data).
std::size_t read_some(gzFile_s* f, std::uint8_t* out, std::size_t n, const std::filesystem::path& path) {
  std::size_t got = 0;
  while (got < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30));
    const int r = gzread(f, out + got, chunk);
    if (r < 0) {
      int code = 0;
      gzerror(f, &code);
      // A gzip stream cut short reads as an early end: reported as truncation by the caller.
      if (code == Z_BUF_ERROR) return got;
      fail("idx", "{}: {}", path.string(), gz_error(f));
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

std::string dims_text(const std::vector<std::int64_t>& dims, std::size_t from) {
  std::string s;
  for (std::size_t i = from; i < dims.size(); ++i) {
    if (i > from) s.push_back('x');
    s.append(std::to_string(dims[i]));
  }
  return s;
}

// "60000 images of 28x28", "60000 labels", "5 items of 2x3x4".
std::string what(const std::vector<std::int64_t>& dims) {
  if (dims.size() == 1) return std::to_string(dims[0]) + " labels";
  return std::to_string(dims[0]) + (dims.size() == 3 ? " images of " : " items of ") + dims_text(dims, 1);
}

}  // namespace

std::int64_t IdxArray::count() const {
  std::int64_t n = 1;
  for (auto d : dims)
    check(!__builtin_mul_overflow(n, d, &n), "idx", "dimensions {} overflow 64 bits", dims_text(dims, 0));
  return n;
}

IdxArray read_idx(const std::filesystem::path& path) {
  check(std::filesystem::exists(path), "idx", "{}: no such file", path.string());
  GzFile f(gzopen(path.c_str(), "rb"));
  check(f != nullptr, "idx", "{}: cannot open", path.string());
  gzbuffer(f.get(), 1 << 17);

  std::array<std::uint8_t, 4> magic{};
  check(read_some(f.get(), magic.data(), 4, path) == 4, "idx", "{}: truncated: no 4-byte header", path.string());
  check(magic[0] == 0 && magic[1] == 0, "idx", "{}: bad magic {:02x} {:02x} {:02x} {:02x}: not an IDX file",
        path.string(), magic[0], magic[1], magic[2], magic[3]);
  check(magic[2] == kUnsignedByte, "idx", "{}: element type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
        path.string(), magic[2]);
  const int rank = magic[3];
  check(rank >= 1, "idx", "{}: bad magic: 0 dimensions", path.string());

  IdxArray array;
  std::vector<std::uint8_t> header(4 * static_cast<std::size_t>(rank));
  check(read_some(f.get(), header.data(), header.size(), path) == header.size(), "idx",
        "{}: truncated: header promises {} dimensions, file ends inside them", path.string(), rank);
  for (int i = 0; i < rank; ++i) {
    const std::uint8_t* b = header.data() + 4 * i;
    array.dims.push_back((std::int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3]);
  }
  std::int64_t n = 0;
  try {
    n = array.count();
  } catch (const Error&) {
    fail("idx", "{}: the header's dimensions {} overflow 64 bits", path.string(), dims_text(array.dims, 0));
  }
  // Read in chunks, so that memory follows the data that is there, not what the header claims
  // (a 150-byte file can claim 12 GB).
  constexpr std::size_t kChunk = std::size_t{1} << 24;
  std::size_t got = 0;
  while (got < static_cast<std::size_t>(n)) {
    const std::size_t want = std::min(kChunk, static_cast<std::size_t>(n) - got);
    array.data.resize(got + want);
    const std::size_t arrived = read_some(f.get(), array.data.data() + got, want, path);
    got += arrived;
    if (arrived < want) break;
  }
  array.data.resize(got);
  if (got != static_cast<std::size_t>(n)) {
    const std::int64_t item = n / std::max<std::int64_t>(array.dims[0], 1);
    fail("idx", "{}: truncated: header promises {}, file holds {}{}", path.string(), what(array.dims),
         item > 0 ? static_cast<std::int64_t>(got) / item : 0, item > 0 && got % item ? " and a part" : "");
  }
  std::uint8_t extra = 0;
  check(read_some(f.get(), &extra, 1, path) == 0, "idx", "{}: header promises {}, but the file holds more data",
        path.string(), what(array.dims));
  return array;
}

void write_idx(const std::filesystem::path& path, const IdxArray& array) {
  check(!array.dims.empty() && array.dims.size() < 256, "idx", "{}: cannot write {} dimensions", path.string(),
        array.dims.size());
  check(static_cast<std::int64_t>(array.data.size()) == array.count(), "idx", "{}: {} bytes for dimensions {}",
        path.string(), array.data.size(), dims_text(array.dims, 0));
  const bool gz = path.extension() == ".gz";
  GzFile f(gzopen(path.c_str(), gz ? "wb6" : "wbT"));
  check(f != nullptr, "idx", "{}: cannot create", path.string());
  std::vector<std::uint8_t> header = {0, 0, kUnsignedByte, static_cast<std::uint8_t>(array.dims.size())};
  for (auto d : array.dims)
    for (int s = 24; s >= 0; s -= 8) header.push_back(static_cast<std::uint8_t>(d >> s));
  bool ok = gzwrite(f.get(), header.data(), static_cast<unsigned>(header.size())) == static_cast<int>(header.size());
  if (!array.data.empty())
    ok = ok && gzwrite(f.get(), array.data.data(), static_cast<unsigned>(array.data.size())) ==
                   static_cast<int>(array.data.size());
  check(ok && gzclose(f.release()) == Z_OK, "idx", "{}: write failed", path.string());
}

}  // namespace mttt::nn::data
