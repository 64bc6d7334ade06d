#include "nn/layers/patch_embedding.hpp"

#include <fmt/format.h>

#include "nn/init.hpp"
#include "nn/layers/linear.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

Tensor patchify(const Tensor& images, std::int64_t p) {
  check(images.rank() == 4, "patchify", "images {} must be NHWC (B, H, W, C)", to_string(images.shape()));
  const std::int64_t B = images.size(0), H = images.size(1), W = images.size(2), C = images.size(3);
  check(p > 0 && H % p == 0 && W % p == 0, "patchify", "images {} do not split into {}x{} patches",
        to_string(images.shape()), p, p);
  if (p == 1) return reshape(images, {B, H * W, C});          // pixels: a view
  Tensor grid = reshape(images, {B, H / p, p, W / p, p, C});  // (B, gy, py, gx, px, C)
  grid = permute(grid, {0, 1, 3, 2, 4, 5});                   // (B, gy, gx, py, px, C)
  return reshape(grid, {B, (H / p) * (W / p), p * p * C});
}

PatchEmbedding::PatchEmbedding(std::int64_t patch, std::int64_t channels, std::int64_t width, Generator& gen,
                               DType dtype)
    : patch_(patch), channels_(channels), width_(width) {
  check(patch > 0 && channels > 0 && width > 0, "PatchEmbedding", "patch {}, channels {}, width {} must be positive",
        patch, channels, width);
  register_parameter("kernel", kernel_, init::lecun_normal()({patch * patch * channels, width}, dtype, gen));
  register_parameter("bias", bias_, zeros({width}, {dtype}));
}

Tensor PatchEmbedding::forward(const Tensor& images) const {
  check(images.rank() == 4 && images.size(3) == channels_, "PatchEmbedding", "images {} must be (B, H, W, {})",
        to_string(images.shape()), channels_);
  return dense(patchify(images, patch_), kernel_, bias_);
}

std::string PatchEmbedding::describe() const {
  return fmt::format("PatchEmbedding({}x{}x{} -> {})", patch_, patch_, channels_, width_);
}

}  // namespace mttt::nn
