// Joining, splitting and indexing: concat, stack, split, index_select, gather, one_hot.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/core.hpp"

namespace mttt {

Tensor concat(const std::vector<Tensor>& tensors, std::int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t axis = 0);
// Pieces of the given sizes along `axis` (they must add up to its size); views.
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t axis = 0);
// Equal pieces.
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t axis = 0);
// x's slices at `index` (int64, 1-D) along `axis`.
Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index);
// out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (index has x's rank; out has index's shape).
Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index);
// Rows of the identity: labels (int64, any shape) -> (..., classes) in `dtype`.
Tensor one_hot(const Tensor& labels, std::int64_t classes, DType dtype = DType::float32);

}  // namespace mttt
