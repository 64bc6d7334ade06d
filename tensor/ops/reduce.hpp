// Reductions over any set of axes, with keepdim. An empty axis list means all axes. Sums
// run in a fixed order whatever the thread count (deterministic).
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/core.hpp"

namespace mttt {

using Axes = std::vector<std::int64_t>;

Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor min(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
// Variance with `correction` subtracted from the count (0: biased, as LayerNorm uses).
Tensor var(const Tensor& x, const Axes& axes = {}, bool keepdim = false, std::int64_t correction = 0);
Tensor logsumexp(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
// Index of the largest element along one axis (int64; ties: the first).
Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim = false);
Tensor argmin(const Tensor& x, std::int64_t axis, bool keepdim = false);

}  // namespace mttt
