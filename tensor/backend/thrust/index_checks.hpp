// Index values checked before an index kernel runs.
#pragma once

#include <limits>
#include <string>

#include "tensor/backend/thrust/launch.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

// Index values checked before a kernel runs (a kernel cannot throw): the lowest and highest value
// are reduced on the device, so two numbers cross to the host, not the index (a broadcast index
// would have crossed at its full, expanded size). Messages are built without fmt, whose
// compile-time format checks nvcc cannot evaluate.
struct IndexRange {
  Index low, high;
};
struct IndexValue {
  const Index* data;
  Layout layout;
  MTTT_HD IndexRange operator()(Index i) const {
    const Index v = data[layout.offset(i)];
    return {v, v};
  }
};
struct WidenRange {
  MTTT_HD IndexRange operator()(IndexRange a, IndexRange b) const {
    return {a.low < b.low ? a.low : b.low, a.high > b.high ? a.high : b.high};
  }
};

inline void check_indices(const Tensor& index, Index size, const char* op) {
  const Index n = index.numel();
  if (n == 0) return;
  const IndexRange range = parallel_reduce(n, IndexValue{typed<Index>(index), layout_of(index)},
                                           IndexRange{std::numeric_limits<Index>::max(), std::numeric_limits<Index>::min()},
                                           WidenRange{});
  if (range.low >= 0 && range.high < size) return;
  const Index bad = range.low < 0 ? range.low : range.high;
  throw_error(op, "index " + std::to_string(bad) + " is out of range for an axis of size " + std::to_string(size));
}

}  // namespace thrust_backend

}  // namespace mttt::MTTT_THRUST_SYSTEM
