// A small 8-bit image (height x width x channels, row-major HWC) and the geometric helpers of the
// preprocessing: crops, flips and TensorFlow's resizes, reproduced to their rounding.
#pragma once

#include <cstdint>
#include <vector>

namespace mttt::nn::data {

struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(int h, int w, int c, std::uint8_t value = 0)
      : height(h), width(w), channels(c), pixels(static_cast<std::size_t>(h) * w * c, value) {}

  std::size_t size() const { return pixels.size(); }
  bool empty() const { return pixels.empty(); }
  std::size_t row_stride() const { return static_cast<std::size_t>(width) * channels; }
  std::uint8_t* row(int y) { return pixels.data() + y * row_stride(); }
  const std::uint8_t* row(int y) const { return pixels.data() + y * row_stride(); }
  std::uint8_t& at(int y, int x, int c) { return row(y)[x * channels + c]; }
  std::uint8_t at(int y, int x, int c) const { return row(y)[x * channels + c]; }
  bool operator==(const Image&) const = default;
};

// The window of `height` x `width` pixels at (y, x); it must lie inside the image.
Image crop(const Image& image, int y, int x, int height, int width);
// The centre window, at offset ((H - height) / 2, (W - width) / 2) rounded down, as big_vision's
// central_crop.
Image central_crop(const Image& image, int height, int width);
void flip_left_right(Image& image);

// tf.image.resize(method="bilinear", antialias=False): half-pixel centres, float arithmetic,
// then clipped to [0, 255] and truncated to uint8 as big_vision's resize does.
Image resize_bilinear(const Image& image, int height, int width);
// tf.image.resize(method="area", antialias=False) (TensorFlow's ResizeArea), clipped and truncated.
Image resize_area(const Image& image, int height, int width);
// big_vision's resize_small: area resize so that the shorter side becomes `size`, the other side
// scaled by the same factor and rounded half to even in float, as tf.round.
Image resize_small(const Image& image, int size);
// The (height, width) that resize_small gives.
std::pair<int, int> resize_small_shape(int height, int width, int size);

// big_vision's value_range(-1, 1): v / 255 * 2 - 1 in float, written to `out` (size() floats).
void to_unit_range(const Image& image, float* out);

}  // namespace mttt::nn::data
