// Mixup as big_vision applies it: one coefficient per batch from Beta(alpha, alpha) (its
// 2-component Dirichlet), sorted so that the larger weight stays on the original image; the
// partner of row i is row i - 1 (jnp.roll by 1, row 0 takes the last); labels mixed alike.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/data/random_stream.hpp"

namespace mttt::nn::data {

// max(l, 1 - l) with l ~ Beta(alpha, alpha): the weight of the original image, in [0.5, 1].
double sample_mixup_weight(double alpha, RandomStream& rng);

// rows: (batch, row_size) float32, mixed in place.
void mixup_rows(float* rows, std::int64_t batch, std::int64_t row_size, double weight);

// One-hot labels (batch, classes) mixed with the same weight and partner.
std::vector<float> mixup_labels(const std::vector<std::int64_t>& labels, std::int64_t classes, double weight);

}  // namespace mttt::nn::data
