// Walking a strided tensor in row-major order of its shape: the offsets (in elements) of
// consecutive elements, for kernels that read views without copying them.
#pragma once

#include <algorithm>
#include <cstdint>

#include "tensor/shape.hpp"

namespace mttt::cpu {

class StridedWalk {
 public:
  StridedWalk(const Shape& shape, const Strides& strides) : shape_(shape), strides_(strides), index_(Dims::filled(shape.size(), 0)) {}

  // Positions the walk at row-major element `linear`.
  void seek(std::int64_t linear) {
    offset_ = 0;
    for (int i = shape_.size() - 1; i >= 0; --i) {
      std::int64_t n = shape_[i];
      index_[i] = n ? linear % n : 0;
      linear = n ? linear / n : 0;
      offset_ += index_[i] * strides_[i];
    }
  }
  std::int64_t offset() const { return offset_; }
  void next() { carry(static_cast<int>(shape_.size()) - 1); }
  // Copies `count` elements from row-major element `linear` on into dst, a run along the
  // innermost axis at a time: copied where that axis is contiguous, filled where it is
  // broadcast (a bias row, a column of statistics), so no per-element offsets are computed.
  template <class T> void gather(const T* src, std::int64_t linear, std::int64_t count, T* dst) {
    seek(linear);
    const int last = static_cast<int>(shape_.size()) - 1;
    if (last < 0) {
      if (count > 0) dst[0] = src[offset_];
      return;
    }
    const std::int64_t length = shape_[last], stride = strides_[last];
    while (count > 0) {
      const std::int64_t run = std::min(count, length - index_[last]);
      const T* from = src + offset_;
      if (stride == 1) {
        std::copy_n(from, run, dst);
      } else if (stride == 0) {
        std::fill_n(dst, run, *from);
      } else {
        for (std::int64_t e = 0; e < run; ++e) dst[e] = from[e * stride];
      }
      dst += run;
      count -= run;
      index_[last] += run;
      offset_ += run * stride;
      if (index_[last] < length) break;  // count is exhausted mid-row
      offset_ -= length * stride;
      index_[last] = 0;
      carry(last - 1);
    }
  }

  // Offsets of `count` elements from `linear` on.
  void offsets(std::int64_t linear, std::int64_t count, std::int64_t* out) {
    seek(linear);
    for (std::int64_t i = 0; i < count; ++i) {
      out[i] = offset_;
      next();
    }
  }

 private:
  // Advances axis `axis` by one, carrying into the axes before it.
  void carry(int axis) {
    for (int i = axis; i >= 0; --i) {
      offset_ += strides_[i];
      if (++index_[i] < shape_[i]) return;
      offset_ -= strides_[i] * shape_[i];
      index_[i] = 0;
    }
  }

  Shape shape_;
  Strides strides_;
  Dims index_;
  std::int64_t offset_ = 0;
};

// Merges adjacent axes that are contiguous with each other in every one of `count` stride
// sets (and drops size-1 axes), so that walks take fewer carries. Shapes and strides are
// rewritten in place.
void coalesce(Shape& shape, Strides* strides, int count);

}  // namespace mttt::cpu
