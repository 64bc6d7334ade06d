// Element types of a tensor: float32, float64 and int64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mttt {

enum class DType : std::uint8_t { float32, float64, int64 };

std::size_t itemsize(DType dtype);
std::string_view to_string(DType dtype);
inline bool is_floating(DType dtype) { return dtype != DType::int64; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::float32; }
template <> constexpr DType dtype_of<double>() { return DType::float64; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::int64; }

// Calls f with a value of the C++ type that `dtype` stands for: f(float{}), f(double{}) or
// f(int64_t{}). Kernels use it to instantiate one template per element type.
template <class F> decltype(auto) dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::float32: return f(float{});
    case DType::float64: return f(double{});
    default: return f(std::int64_t{});
  }
}

// Same, for floating types only; int64 throws naming `op`.
template <class F> decltype(auto) dispatch_floating(DType dtype, const char* op, F&& f);

}  // namespace mttt

#include "tensor/error.hpp"

namespace mttt {
template <class F> decltype(auto) dispatch_floating(DType dtype, const char* op, F&& f) {
  if (dtype == DType::float64) return f(double{});
  if (dtype != DType::float32) throw_error(op, "int64 tensors are not supported here; cast to float32 or float64 first");
  return f(float{});
}
}  // namespace mttt
