// Fashion-MNIST (Xiao et al. 2017) from Debian's dataset-fashion-mnist package: 60,000 training
// and 10,000 test images of 28 x 28 x 1, ten classes, held in memory.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "nn/data/dataset.hpp"
#include "nn/data/idx.hpp"

namespace mttt::nn::data {

// $MTTT_FASHION_MNIST when set, else /usr/share/datasets/fashion-mnist.
std::filesystem::path fashion_mnist_dir();
// Whether the four IDX files are there.
bool fashion_mnist_available(const std::filesystem::path& dir = fashion_mnist_dir());

class FashionMnist : public ExampleSource {
 public:
  // split: "train" or "test". A missing file is an error that says how to install the package.
  explicit FashionMnist(const std::string& split, const std::filesystem::path& dir = fashion_mnist_dir());

  std::int64_t size() const override { return count_; }
  std::int64_t num_classes() const override { return 10; }
  std::int64_t label(std::int64_t index) const override { return labels_.data[static_cast<std::size_t>(index)]; }
  bool load(std::int64_t index, Image& image, std::string& error) const override;
  std::string describe(std::int64_t index) const override;
  std::vector<std::string> class_names() const override;

 private:
  std::filesystem::path images_path_;
  IdxArray images_, labels_;
  std::int64_t count_ = 0;
  int height_ = 0, width_ = 0;
};

}  // namespace mttt::nn::data
