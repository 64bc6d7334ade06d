#include "nn/data/preprocess.hpp"

namespace mttt::nn::data {

PreprocessOptions imagenet_train_preprocess(int size) {
  PreprocessOptions p;
  p.inception_crop = size;
  p.flip = true;
  p.randaugment.layers = 2;
  p.randaugment.magnitude = 10;
  return p;
}

PreprocessOptions pixels_train_preprocess(int size) {
  PreprocessOptions p;
  p.inception_crop = size;
  return p;
}

PreprocessOptions eval_preprocess(int resize, int size) {
  PreprocessOptions p;
  p.resize_small = resize;
  p.central_crop = size;
  return p;
}

Image preprocess(Image image, const PreprocessOptions& o, RandomStream& rng) {
  if (o.inception_crop > 0) image = inception_crop(image, o.inception_crop, o.crop, rng);
  if (o.resize_small > 0) image = resize_small(image, o.resize_small);
  if (o.central_crop > 0) image = central_crop(image, o.central_crop, o.central_crop);
  // TensorFlow's random_flip_left_right flips when its uniform draw is below 1/2.
  if (o.flip && rng.uniform_float() < 0.5f) flip_left_right(image);
  if (o.randaugment.layers > 0) randaugment(image, o.randaugment, rng);
  return image;
}

ImageShape preprocessed_shape(const PreprocessOptions& o, int channels) {
  int size = o.central_crop > 0 ? o.central_crop : o.inception_crop;
  return {size, size, channels};
}

}  // namespace mttt::nn::data
