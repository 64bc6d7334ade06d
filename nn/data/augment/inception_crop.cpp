#include "nn/data/augment/inception_crop.hpp"

#include <cmath>

namespace mttt::nn::data {

namespace {

int round_int(float v) { return static_cast<int>(std::lrint(v)); }

// TensorFlow's GenerateRandomCrop, to its rounding.
bool generate_crop(int width, int height, float min_rel, float max_rel, float ratio, RandomStream& rng,
                   CropWindow& out) {
  if (max_rel <= 0 || ratio <= 0 || width <= 0 || height <= 0 || min_rel > max_rel) return false;
  const float min_area = min_rel * static_cast<float>(width) * static_cast<float>(height);
  const float max_area = max_rel * static_cast<float>(width) * static_cast<float>(height);
  int h = round_int(std::sqrt(min_area / ratio));
  int max_h = round_int(std::sqrt(max_area / ratio));
  if (round_int(static_cast<float>(max_h) * ratio) > width) {
    const float eps = 0.0000001f;
    max_h = static_cast<int>((width + 0.5 - static_cast<double>(eps)) / ratio);
    if (round_int(static_cast<float>(max_h) * ratio) > width) max_h -= 1;
  }
  if (max_h > height) max_h = height;
  if (h >= max_h) h = max_h;
  if (h < max_h) h += static_cast<int>(rng.below(static_cast<std::uint32_t>(max_h - h + 1)));
  int w = round_int(static_cast<float>(h) * ratio);
  float area = static_cast<float>(w * h);
  if (area < min_area) {
    h += 1;
    w = round_int(static_cast<float>(h) * ratio);
    area = static_cast<float>(w * h);
  }
  if (area > max_area) {
    h -= 1;
    w = round_int(static_cast<float>(h) * ratio);
    area = static_cast<float>(w * h);
  }
  if (area < min_area || area > max_area || w > width || h > height || w <= 0 || h <= 0) return false;
  out.y = h < height ? static_cast<int>(rng.below(static_cast<std::uint32_t>(height - h))) : 0;
  out.x = w < width ? static_cast<int>(rng.below(static_cast<std::uint32_t>(width - w))) : 0;
  out.height = h;
  out.width = w;
  return true;
}

}  // namespace

CropWindow sample_crop_window(int height, int width, const InceptionCropOptions& o, RandomStream& rng) {
  for (int attempt = 0; attempt < o.max_attempts; ++attempt) {
    const float ratio = rng.uniform_float() * (o.ratio_max - o.ratio_min) + o.ratio_min;
    CropWindow w;
    // With min_object_covered = 0 the overlap test only rejects empty windows.
    if (generate_crop(width, height, o.area_min, o.area_max, ratio, rng, w) && w.height * w.width >= 1) return w;
  }
  return {0, 0, height, width};
}

Image inception_crop(const Image& image, int size, const InceptionCropOptions& options, RandomStream& rng) {
  const CropWindow w = sample_crop_window(image.height, image.width, options, rng);
  return resize_bilinear(crop(image, w.y, w.x, w.height, w.width), size, size);
}

}  // namespace mttt::nn::data
