#include "nn/data/image_folder.hpp"

#include <algorithm>
#include <cctype>

#include "tensor/error.hpp"

namespace mttt::nn::data {

namespace {

bool is_jpeg(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpeg" || ext == ".jpg";
}

}  // namespace

ImageFolder::ImageFolder(const std::filesystem::path& root, const std::string& split, JpegDecodeOptions decode)
    : decode_(decode) {
  namespace fs = std::filesystem;
  const fs::path dir = root / split;
  check(fs::is_directory(dir), "image_folder", "{}: no such folder (expected root/{}/<class>/*.JPEG)", dir.string(),
        split);
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory()) classes_.push_back(entry.path().filename().string());
  std::sort(classes_.begin(), classes_.end());
  check(!classes_.empty(), "image_folder", "{}: no class folders", dir.string());
  for (std::size_t label = 0; label < classes_.size(); ++label) {
    const fs::path class_dir = dir / classes_[label];
    std::vector<fs::path> images;
    for (const auto& entry : fs::directory_iterator(class_dir))
      if (entry.is_regular_file() && is_jpeg(entry.path())) images.push_back(entry.path());
    check(!images.empty(), "image_folder", "{}: empty class folder (no .JPEG/.jpg files)", class_dir.string());
    std::sort(images.begin(), images.end());
    for (auto& p : images) {
      files_.push_back(std::move(p));
      labels_.push_back(static_cast<std::int64_t>(label));
    }
  }
}

bool ImageFolder::load(std::int64_t index, Image& image, std::string& error) const {
  const auto bytes = read_file(files_[static_cast<std::size_t>(index)]);
  return decode_jpeg(bytes.data(), bytes.size(), image, error, decode_);
}

}  // namespace mttt::nn::data
