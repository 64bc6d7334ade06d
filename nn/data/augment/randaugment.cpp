#include "nn/data/augment/randaugment.hpp"

#include <cstdint>

#include "nn/data/augment/color_ops.hpp"
#include "nn/data/augment/geometric_ops.hpp"
#include "tensor/error.hpp"

namespace mttt::nn::data {

namespace {

constexpr double kMaxLevel = 10;

constexpr std::array<std::string_view, kRandAugmentOps> kNames = {
    "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "Color", "Contrast",
    "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY", "Cutout", "SolarizeAdd"};

// The reference's _randomly_negate_tensor: keep the sign when floor(u + 0.5) is 1.
float random_sign(float value, RandomStream& rng) { return rng.uniform_float() >= 0.5f ? value : -value; }

float enhance_factor(double level) { return static_cast<float>(level / kMaxLevel * 1.8 + 0.1); }

}  // namespace

std::string_view randaugment_op_name(RandAugmentOp op) { return kNames.at(static_cast<std::size_t>(op)); }

void apply_randaugment_op(Image& image, RandAugmentOp op, const RandAugmentOptions& o, RandomStream& rng) {
  const double level = o.magnitude;
  switch (op) {
    case RandAugmentOp::auto_contrast: autocontrast(image); return;
    case RandAugmentOp::equalize: equalize(image); return;
    case RandAugmentOp::invert: invert(image); return;
    case RandAugmentOp::rotate:
      image = rotate(image, random_sign(static_cast<float>(level / kMaxLevel * 30.0), rng), o.fill);
      return;
    case RandAugmentOp::posterize: posterize(image, static_cast<int>(level / kMaxLevel * 4)); return;
    case RandAugmentOp::solarize:
      // The threshold becomes a uint8 in the reference: 256 wraps to 0.
      solarize(image, static_cast<std::uint8_t>(static_cast<int>(level / kMaxLevel * 256)));
      return;
    case RandAugmentOp::color: color(image, enhance_factor(level)); return;
    case RandAugmentOp::contrast: contrast(image, enhance_factor(level)); return;
    case RandAugmentOp::brightness: brightness(image, enhance_factor(level)); return;
    case RandAugmentOp::sharpness: sharpness(image, enhance_factor(level)); return;
    case RandAugmentOp::shear_x:
      image = shear_x(image, random_sign(static_cast<float>(level / kMaxLevel * 0.3), rng), o.fill);
      return;
    case RandAugmentOp::shear_y:
      image = shear_y(image, random_sign(static_cast<float>(level / kMaxLevel * 0.3), rng), o.fill);
      return;
    case RandAugmentOp::translate_x:
      image = translate_x(image, random_sign(static_cast<float>(level / kMaxLevel * o.translate_const), rng), o.fill);
      return;
    case RandAugmentOp::translate_y:
      image = translate_y(image, random_sign(static_cast<float>(level / kMaxLevel * o.translate_const), rng), o.fill);
      return;
    case RandAugmentOp::cutout: {
      const int pad = static_cast<int>(level / kMaxLevel * o.cutout_const);
      const int cy = static_cast<int>(rng.below(static_cast<std::uint32_t>(image.height)));
      const int cx = static_cast<int>(rng.below(static_cast<std::uint32_t>(image.width)));
      cutout(image, cy, cx, pad, o.fill);
      return;
    }
    case RandAugmentOp::solarize_add: solarize_add(image, static_cast<int>(level / kMaxLevel * 110), 128); return;
  }
  fail("randaugment", "unknown operation {}", static_cast<int>(op));
}

void randaugment(Image& image, const RandAugmentOptions& options, RandomStream& rng) {
  for (int layer = 0; layer < options.layers; ++layer) {
    const auto op = static_cast<RandAugmentOp>(rng.below(kRandAugmentOps));
    apply_randaugment_op(image, op, options, rng);
  }
}

}  // namespace mttt::nn::data
