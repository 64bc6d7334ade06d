// Helpers of the data tests: a temporary folder, synthetic images and JPEG folders.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "nn/data/image.hpp"

namespace mttt::nn::data {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A smooth colour pattern that JPEG keeps well; `seed` varies it.
Image pattern_image(int height, int width, int channels, int seed);
// An image whose pixel (y, x, c) is (y * width + x) * channels + c (mod 256).
Image ramp_image(int height, int width, int channels);

// Writes root/<split>/<class>/<name>.JPEG for each class and count, 32 x 32 RGB patterns.
// Returns the files in the order the folder lists them (classes sorted, names sorted).
std::vector<std::filesystem::path> write_jpeg_folder(const std::filesystem::path& root, const std::string& split,
                                                     const std::vector<std::pair<std::string, int>>& classes,
                                                     int size = 32);

}  // namespace mttt::nn::data
