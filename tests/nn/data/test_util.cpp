#include "test_util.hpp"

#include <atomic>
#include <cmath>
#include <fmt/format.h>
#include <unistd.h>

#include "nn/data/jpeg.hpp"

namespace mttt::nn::data {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() / fmt::format("mttt-data-{}-{}", ::getpid(), counter++);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Image pattern_image(int height, int width, int channels, int seed) {
  Image image(height, width, channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        const double v = 128 + 100 * std::sin(0.15 * (x + 2 * c) + 0.1 * seed) * std::cos(0.11 * y + 0.3 * seed);
        image.at(y, x, c) = static_cast<std::uint8_t>(std::lround(v));
      }
  return image;
}

Image ramp_image(int height, int width, int channels) {
  Image image(height, width, channels);
  for (std::size_t i = 0; i < image.size(); ++i) image.pixels[i] = static_cast<std::uint8_t>(i % 256);
  return image;
}

std::vector<std::filesystem::path> write_jpeg_folder(const std::filesystem::path& root, const std::string& split,
                                                     const std::vector<std::pair<std::string, int>>& classes,
                                                     int size) {
  std::vector<std::filesystem::path> files;
  int seed = 0;
  for (const auto& [name, count] : classes) {
    const auto dir = root / split / name;
    std::filesystem::create_directories(dir);
    for (int i = 0; i < count; ++i) {
      const auto path = dir / fmt::format("{}_{:03d}.JPEG", name, i);
      write_file(path, encode_jpeg(pattern_image(size, size, 3, seed++), 95));
      files.push_back(path);
    }
  }
  return files;
}

}  // namespace mttt::nn::data
