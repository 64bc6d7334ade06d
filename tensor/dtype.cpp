#include "tensor/dtype.hpp"

namespace mttt {

std::size_t itemsize(DType dtype) {
  switch (dtype) {
    case DType::float32: return 4;
    case DType::float64: return 8;
    case DType::int64: return 8;
  }
  return 0;
}

std::string_view to_string(DType dtype) {
  switch (dtype) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int64: return "int64";
  }
  return "?";
}

void throw_error(std::string_view op, std::string_view message) {
  throw Error(fmt::format("[{}] {}", op, message));
}

}  // namespace mttt
