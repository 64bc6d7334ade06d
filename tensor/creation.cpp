#include "tensor/creation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/reduce.hpp"

namespace mttt {

Tensor empty(const Shape& shape, TensorOptions options) { return Tensor::empty(shape, options.dtype, options.device); }

Tensor full(const Shape& shape, double value, TensorOptions options) {
  Tensor t = empty(shape, options);
  backend(options.device).fill(t, value);
  return t;
}

Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1, options); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {t.dtype(), t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {t.dtype(), t.device()}); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, {t.dtype(), t.device()}); }
Tensor scalar(double value, TensorOptions options) { return full({}, value, options); }

Tensor arange(double start, double stop, double step, TensorOptions options) {
  check(step != 0, "arange", "step must be nonzero");
  auto n = static_cast<std::int64_t>(std::max(0.0, std::ceil((stop - start) / step)));
  Tensor t = empty({n}, options);
  backend(options.device).arange(start, step, t);
  return t;
}

Tensor eye(std::int64_t n, TensorOptions options) {
  check(n >= 0, "eye", "size must be non-negative, got {}", n);
  Tensor t = zeros({n, n}, options);
  Tensor diagonal = Tensor::view_of(t.storage(), {n}, {n + 1}, 0, t.dtype());
  backend(options.device).fill(diagonal, 1);
  return t;
}

namespace {
template <class T> Tensor from_host(const std::vector<T>& values, const Shape& shape, TensorOptions options) {
  if (static_cast<std::int64_t>(values.size()) != numel(shape))
    fail("from_vector", "{} values for shape {} ({} elements)", values.size(), to_string(shape), numel(shape));
  Tensor host = Tensor::empty(shape, dtype_of<T>(), options.device);
  backend(options.device).copy_from_host(values.data(), host);
  return cast(host, options.dtype);
}
}  // namespace

Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions options) {
  return from_host(values, shape, options);
}
Tensor from_vector(const std::vector<float>& values, const Shape& shape, TensorOptions options) {
  return from_host(values, shape, options);
}
Tensor from_vector(const std::vector<std::int64_t>& values, const Shape& shape, TensorOptions options) {
  return from_host(values, shape, options);
}

Tensor uniform(const Shape& shape, double low, double high, TensorOptions options, Generator* generator) {
  if (!is_floating(options.dtype)) fail("uniform", "needs a floating dtype, got {}", to_string(options.dtype));
  Tensor t = empty(shape, options);
  Generator& g = generator ? *generator : default_generator();
  backend(options.device).uniform(g.take(static_cast<std::uint64_t>(t.numel())), low, high, t);
  return t;
}

Tensor normal(const Shape& shape, double mean, double stddev, TensorOptions options, Generator* generator) {
  if (!is_floating(options.dtype)) fail("normal", "needs a floating dtype, got {}", to_string(options.dtype));
  Tensor t = empty(shape, options);
  Generator& g = generator ? *generator : default_generator();
  backend(options.device).normal(g.take(static_cast<std::uint64_t>(t.numel())), mean, stddev, t);
  return t;
}

Tensor randperm(std::int64_t n, Generator* generator, Device device) {
  check(n >= 0, "randperm", "n must be non-negative, got {}", n);
  Generator& g = generator ? *generator : default_generator();
  PhiloxStream stream = g.take(static_cast<std::uint64_t>(n));
  std::vector<double> keys(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) keys[i] = philox_uniform<double>(stream, static_cast<std::uint64_t>(i));
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return keys[a] < keys[b]; });
  return from_vector(order, {n}, {DType::int64, device});
}

}  // namespace mttt
