// Position embeddings of a ViT, both (1, N, D) for a grid of rows x cols tokens in row-major
// order:
//   sin-cos (fixed, for patches): with w_k = 10000^(-k / (D/4 - 1)), k = 0..D/4-1, the token
//     at (row y, column x) gets [sin(x w), cos(x w), sin(y w), cos(y w)], each D/4 wide;
//   learned (for pixels): normal with standard deviation 1/sqrt(D).
#pragma once

#include <cstdint>
#include <string>

#include "tensor/core.hpp"
#include "tensor/random.hpp"

namespace mttt::nn {

enum class PositionEmbeddingKind { sincos, learned };

PositionEmbeddingKind parse_position_embedding(const std::string& name);
std::string position_embedding_name(PositionEmbeddingKind kind);

// Computed in float64, then converted to `dtype`. D must be divisible by 4 (and at least 8).
Tensor sincos_2d_position_embedding(std::int64_t rows, std::int64_t cols, std::int64_t width,
                                    DType dtype = DType::float32);
Tensor learned_position_embedding_init(std::int64_t tokens, std::int64_t width, Generator& generator,
                                       DType dtype = DType::float32);

}  // namespace mttt::nn
