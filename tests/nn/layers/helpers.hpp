// Small helpers shared by the nn layer tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/tensor.hpp"

namespace mttt::test {

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

inline double max_abs(const Tensor& a) {
  double m = 0;
  for (double v : a.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

inline double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

inline double std_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

inline Tensor random64(const Shape& shape, Generator& gen, double scale = 1.0) {
  return normal(shape, 0, scale, {DType::float64}, &gen);
}

}  // namespace mttt::test
