// Inception crop: a random window chosen by TensorFlow's sample_distorted_bounding_box (with
// min_object_covered = 0 and the whole image as the box), cropped and resized bilinearly.
#pragma once

#include "nn/data/image.hpp"
#include "nn/data/random_stream.hpp"

namespace mttt::nn::data {

struct InceptionCropOptions {
  float area_min = 0.05f, area_max = 1.0f;      // of the image's area
  float ratio_min = 0.75f, ratio_max = 1.33f;   // width / height
  int max_attempts = 100;                       // then the whole image
};

struct CropWindow {
  int y = 0, x = 0, height = 0, width = 0;
  bool operator==(const CropWindow&) const = default;
};

// TensorFlow's sampler: per attempt an aspect ratio uniform in [ratio_min, ratio_max] (TF draws
// it uniformly, not log-uniformly), a height uniform among the integers that keep the area in
// range, the width round(height * ratio), and an offset uniform in [0, H - height) (so a window
// smaller than the image never touches its last row or column, as in TF).
CropWindow sample_crop_window(int height, int width, const InceptionCropOptions& options, RandomStream& rng);

// The sampled window resized to size x size (bilinear, no antialiasing, back to uint8).
Image inception_crop(const Image& image, int size, const InceptionCropOptions& options, RandomStream& rng);

}  // namespace mttt::nn::data
