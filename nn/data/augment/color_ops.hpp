// RandAugment's pixel-value operations in their EfficientNet/TF form (tensorflow/tpu
// autoaugment.py, forked by big_vision), on uint8 images of 1 or 3 channels, in place.
// Each one reproduces that code's arithmetic: float32, clipped, truncated back to uint8.
#pragma once

#include "nn/data/image.hpp"

namespace mttt::nn::data {

// Per channel, stretch [min, max] to [0, 255]; a constant channel is left alone.
void autocontrast(Image& image);
// Per channel, PIL's histogram equalisation (its lookup table and step rule).
void equalize(Image& image);
void invert(Image& image);
// Keeps the top `bits` bits of each value.
void posterize(Image& image, int bits);
// v < threshold ? v : 255 - v.
void solarize(Image& image, int threshold);
// v < threshold ? clip(v + addition) : v.
void solarize_add(Image& image, int addition, int threshold = 128);
// Blends towards the greyscale image (factor 0: grey, 1: unchanged, > 1: extrapolates).
void color(Image& image, float factor);
// Blends towards a constant image. As in the reference, the constant is the pixel count / 256
// (the sum of the histogram where its mean was meant), clipped to 255.
void contrast(Image& image, float factor);
// Blends towards black.
void brightness(Image& image, float factor);
// Blends towards the image smoothed by PIL's SMOOTH kernel (borders keep their values).
void sharpness(Image& image, float factor);

// tf.image.rgb_to_grayscale on uint8 (weights 0.2989, 0.5870, 0.1140); a 1-channel image as is.
Image grayscale(const Image& image);
// The reference's blend: degenerate + factor * (image - degenerate), written into `image`.
void blend(const Image& degenerate, Image& image, float factor);

}  // namespace mttt::nn::data
