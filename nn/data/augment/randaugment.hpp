// RandAugment(N, M) in its EfficientNet/TF form (tensorflow/tpu autoaugment.py
// distort_image_with_randaugment, used by big_vision's randaug): N times, one of 16 operations
// chosen uniformly is applied (always: the reference draws a probability and ignores it), with
// arguments from the shared magnitude M (levels out of 10):
//   Rotate       30 M/10 degrees, random sign      ShearX/Y    0.3 M/10, random sign
//   TranslateX/Y translate_const M/10 px, ± sign   Cutout      pad int(cutout_const M/10)
//   Posterize    int(4 M/10) bits                  Solarize    threshold int(256 M/10) as uint8
//   SolarizeAdd  +int(110 M/10) below 128          Color, Contrast, Brightness, Sharpness:
//   AutoContrast, Equalize, Invert: no argument                 factor 1.8 M/10 + 0.1
// The reference compares uint8 pixels with the Solarize threshold, so 256 (M = 10) wraps to 0
// and Solarize inverts every pixel; this is reproduced. Fill value for empty pixels: 128.
#pragma once

#include <array>
#include <string_view>

#include "nn/data/image.hpp"
#include "nn/data/random_stream.hpp"

namespace mttt::nn::data {

enum class RandAugmentOp {
  auto_contrast, equalize, invert, rotate, posterize, solarize, color, contrast,
  brightness, sharpness, shear_x, shear_y, translate_x, translate_y, cutout, solarize_add,
};
inline constexpr int kRandAugmentOps = 16;
// The reference's names, in its order (which the uniform choice indexes).
std::string_view randaugment_op_name(RandAugmentOp op);

struct RandAugmentOptions {
  int layers = 2;
  float magnitude = 10;
  // Absolute pixel constants of the reference (tuned for 224 x 224 images); scale them for others.
  float translate_const = 100;
  float cutout_const = 40;
  std::uint8_t fill = 128;
};

// Applies one operation at `magnitude`; draws its sign or cutout centre from `rng`.
void apply_randaugment_op(Image& image, RandAugmentOp op, const RandAugmentOptions& options, RandomStream& rng);

// The whole policy: `layers` uniformly chosen operations in sequence.
void randaugment(Image& image, const RandAugmentOptions& options, RandomStream& rng);

}  // namespace mttt::nn::data
