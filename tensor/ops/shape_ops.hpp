// Views and layout: reshape, permute, transpose, slice, expand, squeeze/unsqueeze,
// contiguous, and sum_to (the adjoint of broadcasting). Views share storage with their input
// (no copy) wherever the strides allow; each is a differentiable op.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/core.hpp"

namespace mttt {

// One dimension may be -1 (inferred). A view when the strides allow, else a copy.
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, std::int64_t start_axis = 0, std::int64_t end_axis = -1);
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& axes);
Tensor transpose(const Tensor& x, std::int64_t axis0 = -2, std::int64_t axis1 = -1);
// Elements start, start + step, ... below stop along one axis (negative start/stop count from
// the end; clamped like Python slices); step >= 1.
Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1);
// x[..., index, ...] with the axis removed.
Tensor select(const Tensor& x, std::int64_t axis, std::int64_t index);
// Broadcasts to `shape` (stride 0 on the new or size-1 axes).
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x, std::int64_t axis);
Tensor unsqueeze(const Tensor& x, std::int64_t axis);
// A contiguous copy, or x itself when it already is contiguous.
Tensor contiguous(const Tensor& x);
// Sums a broadcast value back to `shape` (the adjoint of expand).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace mttt
