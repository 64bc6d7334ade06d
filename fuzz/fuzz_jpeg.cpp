// libFuzzer target: JPEG decoding (grey and RGB, with a pixel limit) and the geometric
// preprocessing on whatever decodes: crops, flips and the three resizes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "nn/data/image.hpp"
#include "nn/data/jpeg.hpp"
#include "tensor/error.hpp"

using namespace mttt::nn::data;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  JpegDecodeOptions options;
  options.channels = data[0] & 1 ? 3 : 1;
  options.fast_dct = data[0] & 2;
  options.max_pixels = 1 << 20;  // the limit under test, and a bound on the fuzzer's memory
  Image image;
  std::string error;
  try {
    if (!decode_jpeg(data + 1, size - 1, image, error, options)) return 0;
    if (image.size() != static_cast<std::size_t>(image.height) * image.width * image.channels) __builtin_trap();
    const int h = std::max(1, image.height / 2), w = std::max(1, image.width / 2);
    Image c = central_crop(image, h, w);
    flip_left_right(c);
    resize_bilinear(c, 7, 5);
    resize_area(image, 5, 7);
    resize_small(image, 8);
  } catch (const mttt::Error&) {
  }
  return 0;
}
