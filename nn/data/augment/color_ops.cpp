// TensorFlow's kernels round every product and sum: no fused multiply-adds in this file (the
// pragma comes first so that every function of the file, inlined ones too, shares it).
#pragma GCC optimize("fp-contract=off")

#include "nn/data/augment/color_ops.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "tensor/error.hpp"

namespace mttt::nn::data {

namespace {

std::uint8_t clip_truncate(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<std::uint8_t>(v);
}

// Applies a per-channel lookup table.
void apply_tables(Image& image, const std::vector<std::array<std::uint8_t, 256>>& tables) {
  const int c = image.channels;
  const std::size_t n = image.size();
  for (std::size_t i = 0; i < n; ++i) image.pixels[i] = tables[i % c][image.pixels[i]];
}

void apply_table(Image& image, const std::array<std::uint8_t, 256>& table) {
  for (auto& v : image.pixels) v = table[v];
}

std::vector<std::array<std::int64_t, 256>> histograms(const Image& image) {
  std::vector<std::array<std::int64_t, 256>> h(image.channels);
  for (auto& a : h) a.fill(0);
  const int c = image.channels;
  const std::size_t n = image.size();
  for (std::size_t i = 0; i < n; ++i) ++h[i % c][image.pixels[i]];
  return h;
}

}  // namespace

void blend(const Image& degenerate, Image& image, float factor) {
  check(degenerate.size() == image.size(), "blend", "images of {} and {} values", degenerate.size(), image.size());
  if (factor == 0.0f) {
    image.pixels = degenerate.pixels;
    return;
  }
  if (factor == 1.0f) return;
  const bool interpolate = factor > 0.0f && factor < 1.0f;
  const std::size_t n = image.size();
  for (std::size_t i = 0; i < n; ++i) {
    const float a = degenerate.pixels[i], b = image.pixels[i];
    const float v = a + factor * (b - a);
    image.pixels[i] = interpolate ? static_cast<std::uint8_t>(v) : clip_truncate(v);
  }
}

Image grayscale(const Image& image) {
  if (image.channels == 1) return image;
  check(image.channels == 3, "grayscale", "needs 1 or 3 channels, got {}", image.channels);
  const float to_unit = static_cast<float>(1.0 / 255.0);
  const float wr = 0.2989f, wg = 0.5870f, wb = 0.1140f;
  Image grey(image.height, image.width, 1);
  const std::size_t n = grey.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = &image.pixels[3 * i];
    const float g = static_cast<float>(p[0]) * to_unit * wr + static_cast<float>(p[1]) * to_unit * wg +
                    static_cast<float>(p[2]) * to_unit * wb;
    grey.pixels[i] = static_cast<std::uint8_t>(g * 255.5f);
  }
  return grey;
}

namespace {

// The greyscale image repeated over the channels.
Image grey_like(const Image& image, const Image& grey) {
  if (image.channels == 1) return grey;
  Image out(image.height, image.width, image.channels);
  const std::size_t n = grey.size();
  for (std::size_t i = 0; i < n; ++i)
    for (int k = 0; k < image.channels; ++k) out.pixels[i * image.channels + k] = grey.pixels[i];
  return out;
}

}  // namespace

void autocontrast(Image& image) {
  const int c = image.channels;
  std::vector<std::array<std::uint8_t, 256>> tables(c);
  auto h = histograms(image);
  for (int k = 0; k < c; ++k) {
    int lo = 0, hi = 255;
    while (lo < 255 && h[k][lo] == 0) ++lo;
    while (hi > 0 && h[k][hi] == 0) --hi;
    for (int v = 0; v < 256; ++v) tables[k][v] = static_cast<std::uint8_t>(v);
    if (hi <= lo) continue;
    const float flo = static_cast<float>(lo);
    const float scale = 255.0f / (static_cast<float>(hi) - flo);
    const float offset = -flo * scale;
    for (int v = 0; v < 256; ++v) tables[k][v] = clip_truncate(static_cast<float>(v) * scale + offset);
  }
  apply_tables(image, tables);
}

void equalize(Image& image) {
  const int c = image.channels;
  std::vector<std::array<std::uint8_t, 256>> tables(c);
  auto h = histograms(image);
  for (int k = 0; k < c; ++k) {
    for (int v = 0; v < 256; ++v) tables[k][v] = static_cast<std::uint8_t>(v);
    std::int64_t total = 0, last = 0;
    for (int v = 0; v < 256; ++v) {
      total += h[k][v];
      if (h[k][v] != 0) last = h[k][v];
    }
    const std::int64_t step = (total - last) / 255;
    if (step == 0) continue;
    // lut[v] = (cumsum up to v - 1 + step / 2) / step, clipped: PIL's table shifted by one.
    std::int64_t cumsum = 0;
    for (int v = 0; v < 256; ++v) {
      tables[k][v] = static_cast<std::uint8_t>(std::clamp<std::int64_t>((cumsum + step / 2) / step, 0, 255));
      cumsum += h[k][v];
    }
  }
  apply_tables(image, tables);
}

void invert(Image& image) {
  for (auto& v : image.pixels) v = static_cast<std::uint8_t>(255 - v);
}

void posterize(Image& image, int bits) {
  const int shift = 8 - bits;
  check(shift >= 0 && shift <= 8, "posterize", "{} bits: expected 0..8", bits);
  std::array<std::uint8_t, 256> table{};
  for (int v = 0; v < 256; ++v) table[v] = shift == 8 ? 0 : static_cast<std::uint8_t>((v >> shift) << shift);
  apply_table(image, table);
}

void solarize(Image& image, int threshold) {
  std::array<std::uint8_t, 256> table{};
  for (int v = 0; v < 256; ++v) table[v] = static_cast<std::uint8_t>(v < threshold ? v : 255 - v);
  apply_table(image, table);
}

void solarize_add(Image& image, int addition, int threshold) {
  std::array<std::uint8_t, 256> table{};
  for (int v = 0; v < 256; ++v)
    table[v] = static_cast<std::uint8_t>(v < threshold ? std::clamp(v + addition, 0, 255) : v);
  apply_table(image, table);
}

void color(Image& image, float factor) { blend(grey_like(image, grayscale(image)), image, factor); }

void contrast(Image& image, float factor) {
  const float mean = static_cast<float>(static_cast<std::int64_t>(image.height) * image.width) / 256.0f;
  const auto value = static_cast<std::uint8_t>(std::clamp(mean, 0.0f, 255.0f));
  blend(Image(image.height, image.width, image.channels, value), image, factor);
}

void brightness(Image& image, float factor) {
  blend(Image(image.height, image.width, image.channels, 0), image, factor);
}

void sharpness(Image& image, float factor) {
  // TensorFlow's depthwise convolution: taps in row-major order, each a fused multiply-add
  // onto the running sum, with the kernel's float weights (bit-exact against TF 2.21).
  const float w1 = 1.0f / 13.0f, w5 = 5.0f / 13.0f;
  Image smooth = image;
  const int c = image.channels, w = image.width;
  for (int y = 1; y + 1 < image.height; ++y) {
    const std::uint8_t* rows[3] = {image.row(y - 1), image.row(y), image.row(y + 1)};
    std::uint8_t* out = smooth.row(y);
    for (int x = 1; x + 1 < w; ++x)
      for (int k = 0; k < c; ++k) {
        float sum = 0.0f;
        for (int r = 0; r < 3; ++r)
          for (int dx = -1; dx <= 1; ++dx) {
            const float weight = r == 1 && dx == 0 ? w5 : w1;
            sum = std::fma(static_cast<float>(rows[r][(x + dx) * c + k]), weight, sum);
          }
        out[x * c + k] = clip_truncate(sum);
      }
  }
  blend(smooth, image, factor);
}

}  // namespace mttt::nn::data
