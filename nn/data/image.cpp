// TensorFlow's kernels round every product and sum: no fused multiply-adds in this file (the
// pragma comes first so that every function of the file, inlined ones too, shares it).
#pragma GCC optimize("fp-contract=off")

#include "nn/data/image.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "tensor/error.hpp"

namespace mttt::nn::data {

Image crop(const Image& image, int y, int x, int height, int width) {
  check(y >= 0 && x >= 0 && height > 0 && width > 0 && y + height <= image.height && x + width <= image.width, "crop",
        "window {}x{} at ({}, {}) does not fit an image of {}x{}", height, width, y, x, image.height, image.width);
  Image out(height, width, image.channels);
  const std::size_t bytes = out.row_stride();
  for (int r = 0; r < height; ++r)
    std::memcpy(out.row(r), image.row(y + r) + static_cast<std::size_t>(x) * image.channels, bytes);
  return out;
}

Image central_crop(const Image& image, int height, int width) {
  check(height <= image.height && width <= image.width, "central_crop", "a {}x{} crop does not fit an image of {}x{}",
        height, width, image.height, image.width);
  return crop(image, (image.height - height) / 2, (image.width - width) / 2, height, width);
}

void flip_left_right(Image& image) {
  const int c = image.channels;
  for (int y = 0; y < image.height; ++y) {
    std::uint8_t* r = image.row(y);
    for (int a = 0, b = image.width - 1; a < b; ++a, --b)
      for (int k = 0; k < c; ++k) std::swap(r[a * c + k], r[b * c + k]);
  }
}

namespace {

std::uint8_t clip_truncate(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<std::uint8_t>(v);
}

struct LinearTap {
  int lower, upper;
  float lerp;
};

// TensorFlow's compute_interpolation_weights with the half-pixel scaler.
std::vector<LinearTap> linear_taps(int in_size, int out_size) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  std::vector<LinearTap> taps(out_size);
  for (int i = 0; i < out_size; ++i) {
    const float in = (static_cast<float>(i) + 0.5f) * scale - 0.5f;
    const float in_f = std::floor(in);
    taps[i].lower = std::max(static_cast<int>(in_f), 0);
    taps[i].upper = std::min(static_cast<int>(std::ceil(in)), in_size - 1);
    taps[i].lerp = in - in_f;
  }
  return taps;
}

void check_resize(const Image& image, int height, int width, const char* op) {
  check(height > 0 && width > 0 && !image.empty(), op, "cannot resize a {}x{} image to {}x{}", image.height,
        image.width, height, width);
}

}  // namespace

Image resize_bilinear(const Image& image, int height, int width) {
  check_resize(image, height, width, "resize_bilinear");
  const int c = image.channels;
  const auto ys = linear_taps(image.height, height), xs = linear_taps(image.width, width);
  Image out(height, width, c);
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* top = image.row(ys[y].lower);
    const std::uint8_t* bottom = image.row(ys[y].upper);
    const float y_lerp = ys[y].lerp;
    std::uint8_t* o = out.row(y);
    for (int x = 0; x < width; ++x) {
      const int l = xs[x].lower * c, u = xs[x].upper * c;
      const float x_lerp = xs[x].lerp;
      for (int k = 0; k < c; ++k) {
        const float tl = top[l + k], tr = top[u + k], bl = bottom[l + k], br = bottom[u + k];
        const float t = tl + (tr - tl) * x_lerp;
        const float b = bl + (br - bl) * x_lerp;
        o[x * c + k] = clip_truncate(t + (b - t) * y_lerp);
      }
    }
  }
  return out;
}

namespace {

// One output cell of ResizeArea along an axis: the input cells [start, end) it covers, with the
// covered fraction of the first and the last.
struct AreaSpan {
  int start, end;
  float start_scale, end_scale;
};

float area_fraction(int v, float in0, float in1, float scale) {
  if (static_cast<float>(v) < in0) return static_cast<float>(v + 1) > in1 ? scale : static_cast<float>(v + 1) - in0;
  return static_cast<float>(v + 1) > in1 ? in1 - static_cast<float>(v) : 1.0f;
}

std::vector<AreaSpan> area_spans(int out_size, float scale) {
  std::vector<AreaSpan> spans(out_size);
  for (int i = 0; i < out_size; ++i) {
    const float in0 = static_cast<float>(i) * scale, in1 = static_cast<float>(i + 1) * scale;
    AreaSpan& s = spans[i];
    s.start = static_cast<int>(std::floor(in0));
    s.end = static_cast<int>(std::ceil(in1));
    s.start_scale = area_fraction(s.start, in0, in1, scale);
    s.end_scale = area_fraction(s.end - 1, in0, in1, scale);
  }
  return spans;
}

}  // namespace

Image resize_area(const Image& image, int height, int width) {
  check_resize(image, height, width, "resize_area");
  const int c = image.channels;
  const float hs = static_cast<float>(image.height) / static_cast<float>(height);
  const float ws = static_cast<float>(image.width) / static_cast<float>(width);
  const float scale = static_cast<float>(1.0 / static_cast<double>(hs * ws));
  const auto ys = area_spans(height, hs), xs = area_spans(width, ws);
  auto bound = [](int v, int limit) { return std::min(limit - 1, std::max(0, v)); };
  Image out(height, width, c);
  std::vector<float> y_scales;
  std::vector<const std::uint8_t*> y_rows;
  std::vector<float> sum(c), sum_y(c);
  for (int y = 0; y < height; ++y) {
    const float in0 = static_cast<float>(y) * hs, in1 = static_cast<float>(y + 1) * hs;
    y_scales.clear();
    y_rows.clear();
    for (int i = ys[y].start; i < ys[y].end; ++i) {
      y_scales.push_back(area_fraction(i, in0, in1, hs));
      y_rows.push_back(image.row(bound(i, image.height)));
    }
    std::uint8_t* o = out.row(y);
    for (int x = 0; x < width; ++x) {
      const AreaSpan& s = xs[x];
      std::fill(sum.begin(), sum.end(), 0.0f);
      for (std::size_t i = 0; i < y_rows.size(); ++i) {
        const std::uint8_t* r = y_rows[i];
        const int first = bound(s.start, image.width) * c;
        for (int k = 0; k < c; ++k) sum_y[k] = static_cast<float>(r[first + k]) * s.start_scale;
        if (s.start + 1 != s.end) {
          for (int v = s.start + 1; v < s.end - 1; ++v) {
            const int p = bound(v, image.width) * c;
            for (int k = 0; k < c; ++k) sum_y[k] += static_cast<float>(r[p + k]);
          }
          const int last = bound(s.end - 1, image.width) * c;
          for (int k = 0; k < c; ++k) sum_y[k] += static_cast<float>(r[last + k]) * s.end_scale;
        }
        for (int k = 0; k < c; ++k) sum[k] += sum_y[k] * y_scales[i];
      }
      for (int k = 0; k < c; ++k) o[x * c + k] = clip_truncate(sum[k] * scale);
    }
  }
  return out;
}

std::pair<int, int> resize_small_shape(int height, int width, int size) {
  const float factor = static_cast<float>(size) / static_cast<float>(std::min(height, width));
  return {static_cast<int>(std::nearbyint(static_cast<float>(height) * factor)),
          static_cast<int>(std::nearbyint(static_cast<float>(width) * factor))};
}

Image resize_small(const Image& image, int size) {
  auto [h, w] = resize_small_shape(image.height, image.width, size);
  return resize_area(image, h, w);
}

void to_unit_range(const Image& image, float* out) {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int v = 0; v < 256; ++v) t[v] = -1.0f + (static_cast<float>(v) / 255.0f) * 2.0f;
    return t;
  }();
  const std::size_t n = image.size();
  const std::uint8_t* p = image.pixels.data();
  for (std::size_t i = 0; i < n; ++i) out[i] = table[p[i]];
}

}  // namespace mttt::nn::data
