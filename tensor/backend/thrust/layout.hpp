// Plain-old-data views of tensors for Thrust functors: a pointer's layout (shape and strides,
// at most kMaxRank axes) that maps a row-major element number to an offset.
#pragma once

#include <cstdint>

#include "tensor/core.hpp"
#include "tensor/host_device.hpp"

namespace mttt::thrust_backend {

constexpr int kMaxRank = 8;

struct Layout {
  int rank = 0;
  std::int64_t shape[kMaxRank] = {};
  std::int64_t strides[kMaxRank] = {};

  // Offset (in elements) of row-major element `linear` of the shape.
  MTTT_HD std::int64_t offset(std::int64_t linear) const {
    if (rank == 1) return linear * strides[0];  // most layouts after coalesce(): no division
    std::int64_t off = 0;
    for (int i = rank - 1; i >= 0; --i) {
      const std::int64_t n = shape[i];
      off += (linear % n) * strides[i];
      linear /= n;
    }
    return off;
  }
};

// `t`'s layout over `shape`, with `strides` (t's own, or broadcast to that shape).
inline Layout make_layout(const Shape& shape, const Strides& strides) {
  Layout l;
  l.rank = static_cast<int>(shape.size());
  for (int i = 0; i < l.rank; ++i) {
    l.shape[i] = shape[i] == 0 ? 1 : shape[i];
    l.strides[i] = strides[i];
  }
  return l;
}
inline Layout layout_of(const Tensor& t) { return make_layout(t.shape(), t.strides()); }

// The same positions in as few axes as possible: axes of size 1 dropped, and an axis merged into
// the one before it where that one's stride is its whole extent (row-major order is kept, so
// element numbers do not change).
inline Layout coalesce(const Shape& shape, const Strides& strides) {
  Layout l;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    if (shape[i] == 1) continue;
    if (l.rank > 0 && l.strides[l.rank - 1] == strides[i] * shape[i]) {
      l.shape[l.rank - 1] *= shape[i];
      l.strides[l.rank - 1] = strides[i];
      continue;
    }
    l.shape[l.rank] = shape[i];
    l.strides[l.rank] = strides[i];
    ++l.rank;
  }
  return l;
}

// Positions of a tensor with `axis` taken out, and that axis's stride: the unit the index
// ops move along.
struct AxisSplit {
  Layout rest;
  std::int64_t axis_stride = 0, axis_size = 0;
};
inline AxisSplit split_axis(const Shape& shape, const Strides& strides, int axis) {
  Shape s = shape;
  Strides st = strides;
  s.erase(axis);
  st.erase(axis);
  return {make_layout(s, st), strides[axis], shape[axis]};
}

}  // namespace mttt::thrust_backend
