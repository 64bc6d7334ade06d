// Walking a strided tensor in row-major order of its shape: the offsets (in elements) of
// consecutive elements, for kernels that read views without copying them.
#pragma once

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
  void next() {
    for (int i = shape_.size() - 1; i >= 0; --i) {
      offset_ += strides_[i];
      if (++index_[i] < shape_[i]) return;
      offset_ -= strides_[i] * shape_[i];
      index_[i] = 0;
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
