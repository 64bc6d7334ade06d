// Image helpers: TensorFlow's resizes on hand-computed cases, crops, flips, the value range,
// and JPEG decoding.
#include <catch2/catch.hpp>

#include <cmath>

#include "nn/data/image.hpp"
#include "nn/data/jpeg.hpp"
#include "test_util.hpp"

using namespace mttt;
using namespace mttt::nn::data;

namespace {
Image row_image(std::vector<std::uint8_t> values) {
  Image image(1, static_cast<int>(values.size()), 1);
  image.pixels = std::move(values);
  return image;
}
}  // namespace

TEST_CASE("bilinear resize uses half-pixel centres, no antialiasing, truncation to uint8") {
  // in = (i + 0.5) * 0.5 - 0.5 = -0.25, 0.25, 0.75, 1.25: clamped at the edges.
  CHECK(resize_bilinear(row_image({0, 100}), 1, 4).pixels == std::vector<std::uint8_t>{0, 25, 75, 100});
  // Downscaling by 2 averages pixel pairs (no antialiasing beyond that): 5.5 -> 5 (truncated).
  CHECK(resize_bilinear(row_image({0, 11, 20, 40}), 1, 2).pixels == std::vector<std::uint8_t>{5, 30});
  const Image same = ramp_image(5, 7, 3);
  CHECK(resize_bilinear(same, 5, 7) == same);
}

TEST_CASE("area resize weighs covered fractions, as TensorFlow's ResizeArea") {
  Image block(4, 4, 1);
  block.pixels = {1, 2, 10, 20, 3, 4, 30, 40, 0, 0, 8, 8, 0, 4, 8, 8};
  // Means of the 2x2 blocks: 2.5 -> 2, 25, 1, 8.
  CHECK(resize_area(block, 2, 2).pixels == std::vector<std::uint8_t>{2, 25, 1, 8});
  // 4 -> 3: out0 = (a + b/3) 3/4, out1 = (2b/3 + 2c/3) 3/4, out2 = (c/3 + d) 3/4.
  CHECK(resize_area(row_image({30, 61, 90, 121}), 1, 3).pixels == std::vector<std::uint8_t>{37, 75, 113});
  const Image same = ramp_image(6, 5, 3);
  CHECK(resize_area(same, 6, 5) == same);
}

TEST_CASE("evaluation resize: the short side to 256, the other rounded; centre crop at floor((h - 224) / 2)") {
  CHECK(resize_small_shape(375, 500, 256) == std::pair{256, 341});
  CHECK(resize_small_shape(500, 375, 256) == std::pair{341, 256});
  CHECK(resize_small_shape(256, 256, 256) == std::pair{256, 256});
  CHECK(resize_small_shape(100, 150, 256) == std::pair{256, 384});
  // 333 * 256 / 200 = 426.24 -> 426; 28 x 28 Fashion-MNIST-sized inputs work alike.
  CHECK(resize_small_shape(200, 333, 256) == std::pair{256, 426});
  CHECK(resize_small_shape(28, 28, 32) == std::pair{32, 32});

  const Image big = ramp_image(60, 90, 3);
  const Image small = resize_small(big, 40);
  CHECK((small.height == 40 && small.width == 60 && small.channels == 3));

  const Image image = ramp_image(256, 341, 1);
  const Image c = central_crop(image, 224, 224);
  REQUIRE((c.height == 224 && c.width == 224));
  // Offsets (256 - 224) / 2 = 16 and (341 - 224) / 2 = 58 (rounded down).
  CHECK(c.at(0, 0, 0) == image.at(16, 58, 0));
  CHECK(c.at(223, 223, 0) == image.at(239, 281, 0));
  const Image odd = ramp_image(7, 7, 1);
  CHECK(central_crop(odd, 4, 4).at(0, 0, 0) == odd.at(1, 1, 0));
  REQUIRE_THROWS_WITH(central_crop(odd, 8, 4), Catch::Contains("does not fit"));
}

TEST_CASE("crop, flip and the [-1, 1] value range") {
  const Image image = ramp_image(4, 5, 3);
  const Image c = crop(image, 1, 2, 2, 3);
  CHECK(c.at(0, 0, 0) == image.at(1, 2, 0));
  CHECK(c.at(1, 2, 2) == image.at(2, 4, 2));
  REQUIRE_THROWS_WITH(crop(image, 3, 0, 2, 2), Catch::Contains("does not fit"));

  Image flipped = image;
  flip_left_right(flipped);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 5; ++x)
      for (int k = 0; k < 3; ++k) CHECK(flipped.at(y, x, k) == image.at(y, 4 - x, k));

  Image values = row_image({0, 255, 51, 128});
  std::vector<float> out(4);
  to_unit_range(values, out.data());
  CHECK(out[0] == -1.0f);
  CHECK(out[1] == 1.0f);
  CHECK(out[2] == Approx(-0.6f));
  CHECK(out[3] == Approx(128.0 / 255 * 2 - 1).margin(1e-6));
}

TEST_CASE("JPEG encode and decode round-trip; corrupt and truncated data are reported") {
  const Image rgb = pattern_image(32, 48, 3, 1);
  const auto bytes = encode_jpeg(rgb, 95);
  Image back;
  std::string error;
  REQUIRE(decode_jpeg(bytes.data(), bytes.size(), back, error));
  REQUIRE((back.height == 32 && back.width == 48 && back.channels == 3));
  double diff = 0;
  for (std::size_t i = 0; i < rgb.size(); ++i) diff += std::abs(int(rgb.pixels[i]) - int(back.pixels[i]));
  CHECK(diff / static_cast<double>(rgb.size()) < 3);

  Image grey;
  REQUIRE(decode_jpeg(bytes.data(), bytes.size(), grey, error, {.channels = 1}));
  CHECK(grey.channels == 1);
  const auto grey_bytes = encode_jpeg(pattern_image(16, 16, 1, 2));
  REQUIRE(decode_jpeg(grey_bytes.data(), grey_bytes.size(), back, error));
  CHECK(back.channels == 3);  // a grey file decoded as RGB
  CHECK((back.at(3, 4, 0) == back.at(3, 4, 1) && back.at(3, 4, 1) == back.at(3, 4, 2)));

  const std::vector<std::uint8_t> junk = {1, 2, 3, 4, 5, 6, 7, 8};
  error.clear();
  CHECK_FALSE(decode_jpeg(junk.data(), junk.size(), back, error));
  CHECK_FALSE(error.empty());
  error.clear();
  CHECK_FALSE(decode_jpeg(bytes.data(), bytes.size() / 2, back, error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("a JPEG claiming more pixels than the limit is refused from its header, before allocating") {
  auto bytes = encode_jpeg(pattern_image(16, 16, 3, 1));
  // The SOF0 segment's height and width (2 bytes each, after the marker, length and precision).
  std::size_t sof = 0;
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i)
    if (bytes[i] == 0xff && bytes[i + 1] == 0xc0) sof = i;
  REQUIRE(sof > 0);
  for (std::size_t at : {sof + 5, sof + 7}) bytes[at] = 0xff, bytes[at + 1] = 0xdc;  // 65500 x 65500
  Image image;
  std::string error;
  CHECK_FALSE(decode_jpeg(bytes.data(), bytes.size(), image, error));
  CHECK_THAT(error, Catch::Contains("65500x65500") && Catch::Contains("data.max_image_pixels"));
  CHECK(image.pixels.empty());
  // Under a raised limit the header passes and the truncated data is what fails.
  auto small = encode_jpeg(pattern_image(16, 16, 3, 1));
  CHECK_FALSE(decode_jpeg(small.data(), small.size(), image, error, {.max_pixels = 100}));
  CHECK_THAT(error, Catch::Contains("16x16 = 256 pixels"));
}
