// TensorFlow's kernels round every product and sum: no fused multiply-adds in this file (the
// pragma comes first so that every function of the file, inlined ones too, shares it).
#pragma GCC optimize("fp-contract=off")

#include "nn/data/augment/geometric_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace mttt::nn::data {

Image transform_nearest(const Image& image, const AffineMap& m, std::uint8_t fill) {
  const int c = image.channels, h = image.height, w = image.width;
  Image out(h, w, c, fill);
  for (int y = 0; y < h; ++y) {
    std::uint8_t* o = out.row(y);
    const float fy = static_cast<float>(y);
    for (int x = 0; x < w; ++x) {
      const float fx = static_cast<float>(x);
      const auto ix = static_cast<std::int64_t>(std::round(m.a0 * fx + m.a1 * fy + m.a2));
      const auto iy = static_cast<std::int64_t>(std::round(m.b0 * fx + m.b1 * fy + m.b2));
      if (ix < 0 || ix >= w || iy < 0 || iy >= h) continue;
      std::memcpy(o + x * c, image.row(static_cast<int>(iy)) + ix * c, static_cast<std::size_t>(c));
    }
  }
  return out;
}

Image rotate(const Image& image, float degrees, std::uint8_t fill) {
  const float radians = static_cast<float>(static_cast<double>(degrees) * (M_PI / 180.0));
  const float cos = std::cos(radians), sin = std::sin(radians);
  const float w1 = static_cast<float>(image.width) - 1.0f, h1 = static_cast<float>(image.height) - 1.0f;
  const float x_offset = (w1 - (cos * w1 - sin * h1)) / 2.0f;
  const float y_offset = (h1 - (sin * w1 + cos * h1)) / 2.0f;
  return transform_nearest(image, {cos, -sin, x_offset, sin, cos, y_offset}, fill);
}

Image shear_x(const Image& image, float level, std::uint8_t fill) {
  return transform_nearest(image, {1.0f, level, 0.0f, 0.0f, 1.0f, 0.0f}, fill);
}

Image shear_y(const Image& image, float level, std::uint8_t fill) {
  return transform_nearest(image, {1.0f, 0.0f, 0.0f, level, 1.0f, 0.0f}, fill);
}

Image translate_x(const Image& image, float pixels, std::uint8_t fill) {
  return transform_nearest(image, {1.0f, 0.0f, pixels, 0.0f, 1.0f, 0.0f}, fill);
}

Image translate_y(const Image& image, float pixels, std::uint8_t fill) {
  return transform_nearest(image, {1.0f, 0.0f, 0.0f, 0.0f, 1.0f, pixels}, fill);
}

void cutout(Image& image, int center_y, int center_x, int pad, std::uint8_t fill) {
  const int y0 = std::max(0, center_y - pad), y1 = std::min(image.height, center_y + pad);
  const int x0 = std::max(0, center_x - pad), x1 = std::min(image.width, center_x + pad);
  if (y0 >= y1 || x0 >= x1) return;
  const std::size_t c = static_cast<std::size_t>(image.channels);
  for (int y = y0; y < y1; ++y) std::memset(image.row(y) + x0 * c, fill, (x1 - x0) * c);
}

}  // namespace mttt::nn::data
