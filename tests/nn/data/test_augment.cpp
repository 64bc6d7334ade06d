// Augmentations: the inception-crop sampler, RandAugment's operations against hand-computed
// values of the reference's arithmetic, and mixup.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "nn/data/augment/color_ops.hpp"
#include "nn/data/augment/geometric_ops.hpp"
#include "nn/data/augment/inception_crop.hpp"
#include "nn/data/augment/mixup.hpp"
#include "nn/data/augment/randaugment.hpp"
#include "nn/data/preprocess.hpp"
#include "test_util.hpp"

using namespace mttt;
using namespace mttt::nn::data;

namespace {
Image filled(int h, int w, int c, std::uint8_t v) { return Image(h, w, c, v); }
std::vector<std::uint8_t> values(std::initializer_list<int> v) { return {v.begin(), v.end()}; }
Image pixels_image(int h, int w, int c, std::initializer_list<int> v) {
  Image image(h, w, c);
  image.pixels = values(v);
  return image;
}
RandomStream stream(std::uint64_t index = 0) { return RandomStream(7, Purpose::augment, 0, index); }
}  // namespace

TEST_CASE("inception crop: TF's sampler keeps windows inside, areas in [5%, 100%], ratios in range") {
  InceptionCropOptions o;
  // Mean areas from a Python transcription of TF's GenerateRandomCrop (20,000 draws each).
  struct Case {
    int h, w;
    double mean_area;
  };
  for (auto [h, w, mean_area] : {Case{224, 224, 0.375}, Case{375, 500, 0.344}, Case{500, 333, 0.298},
                                 Case{28, 28, 0.382}}) {
    double area_sum = 0, min_area = 1, max_area = 0;
    const int n = 4000;
    for (int i = 0; i < n; ++i) {
      RandomStream rng = stream(static_cast<std::uint64_t>(i));
      const CropWindow c = sample_crop_window(h, w, o, rng);
      REQUIRE((c.y >= 0 && c.x >= 0 && c.height > 0 && c.width > 0));
      REQUIRE((c.y + c.height <= h && c.x + c.width <= w));
      // TF draws offsets in [0, H - height): a smaller window never reaches the last row.
      if (c.height < h) REQUIRE(c.y + c.height < h);
      if (c.width < w) REQUIRE(c.x + c.width < w);
      const double area = double(c.height) * c.width / (double(h) * w);
      REQUIRE(area >= 0.05 - 1e-6);
      REQUIRE(area <= 1.0 + 1e-6);
      const double ratio = double(c.width) / c.height;
      // width = round(height * ratio): the ratio is exact up to half a pixel.
      REQUIRE(ratio >= 0.75 - 0.5 / c.height - 1e-9);
      REQUIRE(ratio <= 1.33 + 0.5 / c.height + 1e-9);
      area_sum += area;
      min_area = std::min(min_area, area);
      max_area = std::max(max_area, area);
    }
    // Heights are uniform between the bounds, so areas are not: small windows dominate.
    CHECK(area_sum / n == Approx(mean_area).margin(0.02));
    CHECK(min_area < 0.07);
    CHECK(max_area > 0.85);
  }
  // Impossible constraints fall back to the whole image after max_attempts.
  InceptionCropOptions impossible{.area_min = 0.9f, .area_max = 1.0f, .ratio_min = 3.0f, .ratio_max = 4.0f};
  RandomStream rng = stream();
  CHECK(sample_crop_window(100, 100, impossible, rng) == CropWindow{0, 0, 100, 100});
  // The crop is resized to the requested size.
  RandomStream rng2 = stream(3);
  const Image out = inception_crop(pattern_image(60, 80, 3, 0), 24, o, rng2);
  CHECK((out.height == 24 && out.width == 24 && out.channels == 3));
}

TEST_CASE("flip happens about half the time, from the example's stream") {
  PreprocessOptions p;
  p.flip = true;
  const Image image = ramp_image(4, 6, 3);
  Image flipped = image;
  flip_left_right(flipped);
  int flips = 0;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    RandomStream rng = stream(i);
    const Image out = preprocess(image, p, rng);
    REQUIRE((out == image || out == flipped));
    flips += out == flipped;
  }
  CHECK(flips > 900);
  CHECK(flips < 1100);
}

TEST_CASE("RandAugment colour operations on hand-computed cases") {
  Image a = pixels_image(1, 4, 1, {0, 100, 128, 255});
  invert(a);
  CHECK(a.pixels == values({255, 155, 127, 0}));

  Image s = pixels_image(1, 4, 1, {0, 127, 128, 200});
  solarize(s, 128);
  CHECK(s.pixels == values({0, 127, 127, 55}));

  Image p = pixels_image(1, 3, 1, {0xAB, 0x0F, 0xFF});
  posterize(p, 4);
  CHECK(p.pixels == values({0xA0, 0x00, 0xF0}));

  // Channel 0 spans [0, 102]: scale 2.5. Channel 1 is constant: left alone.
  Image ac = pixels_image(1, 3, 2, {0, 7, 51, 7, 102, 7});
  autocontrast(ac);
  CHECK(ac.pixels == values({0, 7, 127, 7, 255, 7}));

  // 300 pixels each of 10, 20, 30: step = (900 - 300) / 255 = 2; lut = (cumsum + 1) / 2.
  Image eq(30, 30, 1);
  for (int i = 0; i < 900; ++i) eq.pixels[i] = static_cast<std::uint8_t>(10 * (1 + i / 300));
  equalize(eq);
  CHECK((eq.pixels[0] == 0 && eq.pixels[300] == 150 && eq.pixels[600] == 255));
  // Each of 0..255 once: step 1, the identity.
  Image flat(16, 16, 1);
  for (int i = 0; i < 256; ++i) flat.pixels[i] = static_cast<std::uint8_t>(i);
  Image flat_eq = flat;
  equalize(flat_eq);
  CHECK(flat_eq == flat);

  Image sa = pixels_image(1, 5, 1, {20, 100, 127, 128, 250});
  solarize_add(sa, 110);
  CHECK(sa.pixels == values({130, 210, 237, 128, 250}));

  // Brightness: blend towards black with factor 1.9, clipped.
  Image b = pixels_image(1, 3, 1, {10, 100, 200});
  brightness(b, 1.9f);
  CHECK(b.pixels == values({19, 190, 255}));

  // Contrast: the reference's constant is pixels / 256 = 1 for 16 x 16; 1 + 1.9 (v - 1).
  Image c = filled(16, 16, 1, 100);
  c.pixels[1] = 0;
  c.pixels[2] = 1;
  contrast(c, 1.9f);
  CHECK((c.pixels[0] == 189 && c.pixels[1] == 0 && c.pixels[2] == 1));

  // Color: grey (200, 100, 50) = 124; 124 + 1.9 (v - 124) clipped. Grey pixels stay.
  Image col = pixels_image(1, 2, 3, {200, 100, 50, 77, 77, 77});
  color(col, 1.9f);
  CHECK(col.pixels == values({255, 78, 0, 77, 77, 77}));
  CHECK(grayscale(pixels_image(1, 1, 3, {200, 100, 50})).pixels == values({124}));

  // Sharpness: one bright pixel; its smoothed value 5 * 130 / 13 = 50 is pushed back to
  // 50 + 1.9 (130 - 50) = 202; its neighbours 10 + 1.9 (0 - 10) < 0 -> 0.
  Image sh = filled(5, 5, 1, 0);
  sh.at(2, 2, 0) = 130;
  sharpness(sh, 1.9f);
  CHECK(sh.at(2, 2, 0) == 202);
  CHECK(sh.at(1, 2, 0) == 0);
  Image constant = filled(6, 6, 3, 90);
  sharpness(constant, 1.9f);
  CHECK(constant == filled(6, 6, 3, 90));
  // Border pixels keep their values.
  Image border = ramp_image(5, 5, 1);
  Image border_sharp = border;
  sharpness(border_sharp, 1.9f);
  for (int x = 0; x < 5; ++x) CHECK(border_sharp.at(0, x, 0) == border.at(0, x, 0));
}

TEST_CASE("RandAugment geometric operations: direction, nearest sampling and fill 128") {
  const Image image = ramp_image(3, 3, 1);
  // Counter-clockwise by 90 degrees: the right column becomes the top row.
  const Image r = rotate(image, 90, 128);
  for (int x = 0; x < 3; ++x) CHECK(r.at(0, x, 0) == image.at(x, 2, 0));
  CHECK(r.at(1, 1, 0) == image.at(1, 1, 0));
  // 30 degrees on 32 x 32: the corners come from outside (128), the centre stays.
  const Image big = pattern_image(32, 32, 3, 4);
  const Image r30 = rotate(big, 30, 128);
  for (auto [y, x] : {std::pair{0, 0}, std::pair{0, 31}, std::pair{31, 0}, std::pair{31, 31}})
    for (int k = 0; k < 3; ++k) CHECK(r30.at(y, x, k) == 128);

  // Output (x, y) reads input (x + 0.3 y, y), rounded half away from zero.
  const Image sx = shear_x(big, 0.3f, 128);
  CHECK(sx.at(0, 5, 0) == big.at(0, 5, 0));
  CHECK(sx.at(10, 5, 1) == big.at(10, 8, 1));
  CHECK(sx.at(5, 3, 2) == big.at(5, 5, 2));  // 3 + 1.5 -> 5
  CHECK(sx.at(10, 31, 0) == 128);
  const Image sy = shear_y(big, -0.3f, 128);
  CHECK(sy.at(20, 10, 0) == big.at(17, 10, 0));
  CHECK(sy.at(0, 10, 0) == 128);

  // Translate by +10: content moves left, the right 10 columns are filled with 128.
  const Image tx = translate_x(big, 10, 128);
  CHECK(tx.at(4, 0, 0) == big.at(4, 10, 0));
  CHECK(tx.at(4, 21, 2) == big.at(4, 31, 2));
  for (int x = 22; x < 32; ++x) CHECK(tx.at(4, x, 1) == 128);
  const Image ty = translate_y(big, -10, 128);
  CHECK(ty.at(10, 3, 0) == big.at(0, 3, 0));
  for (int y = 0; y < 10; ++y) CHECK(ty.at(y, 3, 0) == 128);

  Image cut = filled(10, 10, 3, 0);
  cutout(cut, 5, 1, 3, 128);  // rows [2, 8), columns [0, 4)
  int filled_count = 0;
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 10; ++x) {
      const bool inside = y >= 2 && y < 8 && x < 4;
      CHECK(cut.at(y, x, 2) == (inside ? 128 : 0));
      filled_count += inside;
    }
  CHECK(filled_count == 24);
}

TEST_CASE("RandAugment arguments at magnitude 10, as the reference maps levels") {
  RandAugmentOptions o;
  o.translate_const = 10;  // scaled for a 32 x 32 image
  const Image image = pattern_image(32, 32, 3, 9);
  auto apply = [&](RandAugmentOp op, std::uint64_t i = 0) {
    Image out = image;
    RandomStream rng = stream(i);
    apply_randaugment_op(out, op, o, rng);
    return out;
  };
  // Solarize's threshold 256 becomes 0 as a uint8: every pixel is inverted.
  Image inverted = image;
  invert(inverted);
  CHECK(apply(RandAugmentOp::solarize) == inverted);
  CHECK(apply(RandAugmentOp::invert) == inverted);
  // At magnitude 5 the threshold is 128.
  RandAugmentOptions half = o;
  half.magnitude = 5;
  Image s = image, s_ref = image;
  RandomStream rng = stream();
  apply_randaugment_op(s, RandAugmentOp::solarize, half, rng);
  solarize(s_ref, 128);
  CHECK(s == s_ref);

  Image p = image;
  posterize(p, 4);
  CHECK(apply(RandAugmentOp::posterize) == p);
  Image sa = image;
  solarize_add(sa, 110, 128);
  CHECK(apply(RandAugmentOp::solarize_add) == sa);
  Image br = image;
  brightness(br, 1.9f);
  CHECK(apply(RandAugmentOp::brightness) == br);

  // Signed operations take either sign, about equally often.
  int positive = 0;
  for (std::uint64_t i = 0; i < 400; ++i) {
    const Image t = apply(RandAugmentOp::translate_x, i);
    const bool plus = t == translate_x(image, 10, 128);
    REQUIRE((plus || t == translate_x(image, -10, 128)));
    positive += plus;
    const Image r = apply(RandAugmentOp::rotate, i);
    REQUIRE((r == rotate(image, 30, 128) || r == rotate(image, -30, 128)));
    const Image sh = apply(RandAugmentOp::shear_y, i);
    REQUIRE((sh == shear_y(image, 0.3f, 128) || sh == shear_y(image, -0.3f, 128)));
  }
  CHECK(positive > 150);
  CHECK(positive < 250);

  // Cutout: pad int(40 * 10 / 10) = 40 covers all of a 32 x 32 image.
  CHECK(apply(RandAugmentOp::cutout) == filled(32, 32, 3, 128));
  RandAugmentOptions small_cut = o;
  small_cut.cutout_const = 4;
  Image cut = image;
  RandomStream rc = stream(5);
  apply_randaugment_op(cut, RandAugmentOp::cutout, small_cut, rc);
  int grey = 0;
  for (std::size_t i = 0; i < cut.size(); ++i) grey += cut.pixels[i] != image.pixels[i];
  CHECK(grey > 0);
  CHECK(grey <= 8 * 8 * 3);

  CHECK(randaugment_op_name(RandAugmentOp::auto_contrast) == "AutoContrast");
  CHECK(randaugment_op_name(RandAugmentOp::solarize_add) == "SolarizeAdd");

  // The policy is a function of the stream; zero layers do nothing.
  Image x = image, y = image;
  RandomStream r1 = stream(11), r2 = stream(11);
  randaugment(x, o, r1);
  randaugment(y, o, r2);
  CHECK(x == y);
  RandAugmentOptions none = o;
  none.layers = 0;
  Image z = image;
  RandomStream r3 = stream(11);
  randaugment(z, none, r3);
  CHECK(z == image);
}

TEST_CASE("Beta draws and mixup: larger weight on the original, partner the previous row, labels alike") {
  double sum = 0, sum_b = 0;
  const int n = 20000;
  RandomStream rng(3, Purpose::mixup, 0, 0);
  for (int i = 0; i < n; ++i) {
    sum += rng.beta(0.2, 0.2);
    sum_b += rng.beta(2.0, 5.0);
  }
  CHECK(sum / n == Approx(0.5).margin(0.01));
  CHECK(sum_b / n == Approx(2.0 / 7.0).margin(0.01));

  double weights = 0;
  std::set<double> distinct;
  for (std::uint64_t step = 0; step < 2000; ++step) {
    RandomStream r(3, Purpose::mixup, 0, step);
    const double w = sample_mixup_weight(0.2, r);
    REQUIRE((w >= 0.5 && w <= 1.0));
    weights += w;
    distinct.insert(w);
  }
  // E[max(l, 1 - l)] for Beta(0.2, 0.2) is about 0.90: most mass lies near 0 and 1.
  CHECK(weights / 2000 > 0.8);
  CHECK(weights / 2000 < 0.92);
  CHECK(distinct.size() > 1900);

  std::vector<float> rows = {1, 2, 10, 20, 100, 200};  // three rows of two values
  mixup_rows(rows.data(), 3, 2, 0.75);
  CHECK(rows == std::vector<float>{0.75f * 1 + 0.25f * 100, 0.75f * 2 + 0.25f * 200, 0.75f * 10 + 0.25f * 1,
                                   0.75f * 20 + 0.25f * 2, 0.75f * 100 + 0.25f * 10, 0.75f * 200 + 0.25f * 20});
  const auto soft = mixup_labels({2, 0, 1}, 3, 0.75);
  CHECK(soft == std::vector<float>{0, 0.25f, 0.75f, 0.75f, 0, 0.25f, 0.25f, 0.75f, 0});
  const auto same = mixup_labels({1, 1}, 2, 0.6);
  CHECK(same[1] == Approx(1.0));
}
