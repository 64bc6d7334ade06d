#include "nn/layers/position_embedding.hpp"

#include <cmath>
#include <vector>

#include "tensor/tensor.hpp"

namespace mttt::nn {

PositionEmbeddingKind parse_position_embedding(const std::string& name) {
  if (name == "sincos") return PositionEmbeddingKind::sincos;
  if (name == "learned") return PositionEmbeddingKind::learned;
  fail("config", "unknown position embedding '{}'; valid: sincos, learned", name);
}

std::string position_embedding_name(PositionEmbeddingKind kind) {
  return kind == PositionEmbeddingKind::sincos ? "sincos" : "learned";
}

Tensor sincos_2d_position_embedding(std::int64_t rows, std::int64_t cols, std::int64_t width, DType dtype) {
  check(rows > 0 && cols > 0 && width % 4 == 0 && width >= 8, "sincos_2d_position_embedding",
        "grid {}x{} with width {}: the width must be a multiple of 4, at least 8", rows, cols, width);
  const std::int64_t quarter = width / 4;
  std::vector<double> omega(static_cast<std::size_t>(quarter));
  for (std::int64_t k = 0; k < quarter; ++k)
    omega[static_cast<std::size_t>(k)] = std::pow(10000.0, -static_cast<double>(k) / static_cast<double>(quarter - 1));
  std::vector<double> values(static_cast<std::size_t>(rows * cols * width));
  for (std::int64_t y = 0; y < rows; ++y)
    for (std::int64_t x = 0; x < cols; ++x) {
      double* row = values.data() + (y * cols + x) * width;
      for (std::int64_t k = 0; k < quarter; ++k) {
        const double w = omega[static_cast<std::size_t>(k)];
        row[k] = std::sin(static_cast<double>(x) * w);
        row[quarter + k] = std::cos(static_cast<double>(x) * w);
        row[2 * quarter + k] = std::sin(static_cast<double>(y) * w);
        row[3 * quarter + k] = std::cos(static_cast<double>(y) * w);
      }
    }
  return from_vector(values, {1, rows * cols, width}, {dtype});
}

Tensor learned_position_embedding_init(std::int64_t tokens, std::int64_t width, Generator& gen, DType dtype) {
  check(tokens > 0 && width > 0, "learned_position_embedding", "tokens {} and width {} must be positive", tokens,
        width);
  return normal({1, tokens, width}, 0, 1.0 / std::sqrt(static_cast<double>(width)), {dtype}, &gen);
}

}  // namespace mttt::nn
