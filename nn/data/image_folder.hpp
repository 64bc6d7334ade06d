// ImageNet-style folders: root/<split>/<class>/<image>.JPEG. Classes are the sub-folders in
// sorted order (their index is the label); images are the JPEG files of each, sorted by name.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "nn/data/dataset.hpp"
#include "nn/data/jpeg.hpp"

namespace mttt::nn::data {

class ImageFolder : public ExampleSource {
 public:
  // Lists root/split. Errors name the folder: missing, no class folders, or a class folder with
  // no JPEG files (extensions .jpeg, .jpg, any case).
  ImageFolder(const std::filesystem::path& root, const std::string& split, JpegDecodeOptions decode = {});

  std::int64_t size() const override { return static_cast<std::int64_t>(files_.size()); }
  std::int64_t num_classes() const override { return static_cast<std::int64_t>(classes_.size()); }
  std::int64_t label(std::int64_t index) const override { return labels_[static_cast<std::size_t>(index)]; }
  bool load(std::int64_t index, Image& image, std::string& error) const override;
  std::string describe(std::int64_t index) const override { return files_[static_cast<std::size_t>(index)].string(); }
  std::vector<std::string> class_names() const override { return classes_; }

 private:
  std::vector<std::string> classes_;
  std::vector<std::filesystem::path> files_;
  std::vector<std::int64_t> labels_;
  JpegDecodeOptions decode_;
};

}  // namespace mttt::nn::data
