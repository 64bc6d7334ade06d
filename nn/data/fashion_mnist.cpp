#include "nn/data/fashion_mnist.hpp"

#include <cstdlib>
#include <cstring>

#include "tensor/error.hpp"

namespace mttt::nn::data {

namespace {

std::filesystem::path file_of(const std::filesystem::path& dir, const std::string& split, const char* kind) {
  const std::string prefix = split == "train" ? "train" : "t10k";
  return dir / (prefix + "-" + kind + ".gz");
}

}  // namespace

std::filesystem::path fashion_mnist_dir() {
  const char* env = std::getenv("MTTT_FASHION_MNIST");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path("/usr/share/datasets/fashion-mnist");
}

bool fashion_mnist_available(const std::filesystem::path& dir) {
  for (const char* split : {"train", "test"})
    for (const char* kind : {"images-idx3-ubyte", "labels-idx1-ubyte"})
      if (!std::filesystem::exists(file_of(dir, split, kind))) return false;
  return true;
}

FashionMnist::FashionMnist(const std::string& split, const std::filesystem::path& dir) {
  check(split == "train" || split == "test", "fashion_mnist", "unknown split '{}': expected train or test", split);
  images_path_ = file_of(dir, split, "images-idx3-ubyte");
  const auto labels_path = file_of(dir, split, "labels-idx1-ubyte");
  for (const auto& p : {images_path_, labels_path})
    check(std::filesystem::exists(p), "fashion_mnist",
          "{} not found: install Fashion-MNIST with `apt-get install dataset-fashion-mnist`, or set "
          "MTTT_FASHION_MNIST to a folder that holds its four IDX files",
          p.string());
  images_ = read_idx(images_path_);
  labels_ = read_idx(labels_path);
  check(images_.dims.size() == 3, "fashion_mnist", "{}: expected 3 dimensions (images, rows, columns), got {}",
        images_path_.string(), images_.dims.size());
  check(labels_.dims.size() == 1, "fashion_mnist", "{}: expected 1 dimension, got {}", labels_path.string(),
        labels_.dims.size());
  check(images_.dims[0] == labels_.dims[0], "fashion_mnist", "{} holds {} images but {} holds {} labels",
        images_path_.string(), images_.dims[0], labels_path.string(), labels_.dims[0]);
  for (std::size_t i = 0; i < labels_.data.size(); ++i)
    check(labels_.data[i] < 10, "fashion_mnist", "{}: label {} of example {} is outside 0..9", labels_path.string(),
          labels_.data[i], i);
  count_ = images_.dims[0];
  height_ = static_cast<int>(images_.dims[1]);
  width_ = static_cast<int>(images_.dims[2]);
}

bool FashionMnist::load(std::int64_t index, Image& image, std::string&) const {
  image = Image(height_, width_, 1);
  const std::size_t n = image.size();
  std::memcpy(image.pixels.data(), images_.data.data() + static_cast<std::size_t>(index) * n, n);
  return true;
}

std::string FashionMnist::describe(std::int64_t index) const {
  return images_path_.string() + "[" + std::to_string(index) + "]";
}

std::vector<std::string> FashionMnist::class_names() const {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}

}  // namespace mttt::nn::data
