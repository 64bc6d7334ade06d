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

// rows: (batch, row_size) float32, mixed in place: row i with row i - 1, row 0 with
// `first_partner`, or with the last row where it is null (a batch alone; a shard of a global
// batch passes the row before its first in the global batch).
void mixup_rows(float* rows, std::int64_t batch, std::int64_t row_size, double weight,
                const float* first_partner = nullptr);

// One-hot labels (batch, classes) mixed with the same weight and partner (`first_partner`: row
// 0's partner's label; -1: the last row's).
std::vector<float> mixup_labels(const std::vector<std::int64_t>& labels, std::int64_t classes, double weight,
                                std::int64_t first_partner = -1);

}  // namespace mttt::nn::data
