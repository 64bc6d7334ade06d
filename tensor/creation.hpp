// Creating tensors: filled, ranges, identity, from host data, random.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/core.hpp"
#include "tensor/random.hpp"

namespace mttt {

struct TensorOptions {
  DType dtype = DType::float32;
  Device device = kCPU;
};

Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
// A rank-0 tensor.
Tensor scalar(double value, TensorOptions options = {});
// [start, start + step, ...) below `stop` (1-D).
Tensor arange(double start, double stop, double step = 1, TensorOptions options = {});
inline Tensor arange(std::int64_t stop, TensorOptions options = {}) { return arange(0, static_cast<double>(stop), 1, options); }
Tensor eye(std::int64_t n, TensorOptions options = {});
// Copies host values (converted to options.dtype); their count must equal numel(shape).
Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions options = {});
Tensor from_vector(const std::vector<float>& values, const Shape& shape, TensorOptions options = {.dtype = DType::float32});
Tensor from_vector(const std::vector<std::int64_t>& values, const Shape& shape,
                   TensorOptions options = {.dtype = DType::int64});

// Random tensors from a generator (the default one when null); reproducible whatever the
// thread count.
Tensor uniform(const Shape& shape, double low = 0, double high = 1, TensorOptions options = {}, Generator* generator = nullptr);
Tensor normal(const Shape& shape, double mean = 0, double stddev = 1, TensorOptions options = {}, Generator* generator = nullptr);
inline Tensor rand(const Shape& shape, TensorOptions options = {}) { return uniform(shape, 0, 1, options); }
inline Tensor randn(const Shape& shape, TensorOptions options = {}) { return normal(shape, 0, 1, options); }
// A random permutation of 0..n-1 (int64), by sorting random keys.
Tensor randperm(std::int64_t n, Generator* generator = nullptr, Device device = kCPU);

}  // namespace mttt
