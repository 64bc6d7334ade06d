// RandAugment's geometric operations in their EfficientNet/TF form: TensorFlow Addons'
// projective transform with nearest-neighbour sampling (coordinates rounded half away from
// zero), where pixels that fall outside the input get the fill value (the reference's
// wrap/unwrap gives them 128).
#pragma once

#include <cstdint>

#include "nn/data/image.hpp"

namespace mttt::nn::data {

// Output pixel (x, y) reads input (a0 x + a1 y + a2, b0 x + b1 y + b2), in float.
struct AffineMap {
  float a0, a1, a2, b0, b1, b2;
};
Image transform_nearest(const Image& image, const AffineMap& map, std::uint8_t fill);

// Counter-clockwise by `degrees` about the centre (tfa.image.rotate).
Image rotate(const Image& image, float degrees, std::uint8_t fill);
// Output (x, y) reads input (x + level y, y).
Image shear_x(const Image& image, float level, std::uint8_t fill);
// Output (x, y) reads input (x, level x + y).
Image shear_y(const Image& image, float level, std::uint8_t fill);
// Output (x, y) reads input (x + pixels, y): content moves left for positive pixels, as the
// reference's translate_x (which passes -pixels to tfa.image.translate).
Image translate_x(const Image& image, float pixels, std::uint8_t fill);
Image translate_y(const Image& image, float pixels, std::uint8_t fill);
// Fills rows [max(0, cy - pad), min(H, cy + pad)) x columns likewise with `fill`.
void cutout(Image& image, int center_y, int center_x, int pad, std::uint8_t fill);

}  // namespace mttt::nn::data
