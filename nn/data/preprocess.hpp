// Per-example preprocessing, in the order of big_vision's pipelines:
//   training: inception crop -> flip -> RandAugment   (pixels: inception crop only)
//   evaluation: resize the short side (area) -> centre crop
// Each stage is on when its size or count is non-zero. Randomness comes from the example's
// own stream, so the result depends only on (seed, epoch, example).
#pragma once

#include "nn/data/augment/inception_crop.hpp"
#include "nn/data/augment/randaugment.hpp"
#include "nn/data/dataset.hpp"
#include "nn/data/image.hpp"
#include "nn/data/random_stream.hpp"

namespace mttt::nn::data {

struct PreprocessOptions {
  int inception_crop = 0;  // > 0: inception crop to this square size
  InceptionCropOptions crop;
  bool flip = false;       // horizontal flip with probability 1/2
  RandAugmentOptions randaugment{.layers = 0};
  int resize_small = 0;    // > 0: area resize so that the short side has this size
  int central_crop = 0;    // > 0: centre crop to this square size
};

// The spec's recipes. ImageNet training: inception crop to `size`, flip, RandAugment(2, 10).
PreprocessOptions imagenet_train_preprocess(int size = 224);
// Pixel models on ImageNet: inception crop only.
PreprocessOptions pixels_train_preprocess(int size);
// Evaluation: short side to `resize` (area), centre crop `size`.
PreprocessOptions eval_preprocess(int resize = 256, int size = 224);

// The preprocessed example. `rng` is the example's stream.
Image preprocess(Image image, const PreprocessOptions& options, RandomStream& rng);

// The shape preprocessing gives, when it fixes one (a crop); {0, 0, channels} otherwise.
ImageShape preprocessed_shape(const PreprocessOptions& options, int channels);

}  // namespace mttt::nn::data
