// Conversions between Python values and the library's: JSON (configs, records), dtypes,
// devices, axes, name -> tensor dicts, and host buffers copied into tensors.
#include <cstring>

#include <pybind11/stl.h>

#include "python/src/bindings.hpp"

namespace mttt::python {

nlohmann::json to_json(py::handle value, const std::string& where) {
  if (value.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) return value.cast<std::int64_t>();
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::isinstance<py::dict>(value)) {
    nlohmann::json out = nlohmann::json::object();
    for (auto [k, v] : value.cast<py::dict>()) {
      if (!py::isinstance<py::str>(k))
        throw py::type_error(where + ": keys must be strings, got " + py::repr(k).cast<std::string>());
      std::string key = k.cast<std::string>();
      out[key] = to_json(v, where + "." + key);
    }
    return out;
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    nlohmann::json out = nlohmann::json::array();
    std::size_t i = 0;
    for (auto v : value) out.push_back(to_json(v, where + "[" + std::to_string(i++) + "]"));
    return out;
  }
  throw py::type_error(where + ": expected None, bool, int, float, str, list or dict, got " +
                       py::str(value.get_type().attr("__name__")).cast<std::string>());
}

py::object from_json(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return py::none();
    case nlohmann::json::value_t::boolean: return py::bool_(value.get<bool>());
    case nlohmann::json::value_t::number_integer: return py::int_(value.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: return py::int_(value.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float: return py::float_(value.get<double>());
    case nlohmann::json::value_t::string: return py::str(value.get<std::string>());
    case nlohmann::json::value_t::array: {
      py::list out;
      for (const auto& v : value) out.append(from_json(v));
      return out;
    }
    case nlohmann::json::value_t::object: {
      py::dict out;
      for (const auto& [k, v] : value.items()) out[py::str(k)] = from_json(v);
      return out;
    }
    default: throw py::type_error("JSON value of an unsupported type");
  }
}

DType parse_dtype(py::handle value) {
  if (py::isinstance<DType>(value)) return value.cast<DType>();
  // Strings and NumPy dtypes or scalar types ("float32", np.float64, np.dtype("int64")).
  std::string name = py::isinstance<py::str>(value) ? value.cast<std::string>()
                     : py::hasattr(value, "__name__") ? value.attr("__name__").cast<std::string>()
                                                       : py::str(value).cast<std::string>();
  if (name == "float32") return DType::float32;
  if (name == "float64") return DType::float64;
  if (name == "int64") return DType::int64;
  throw py::type_error("dtype: mttt has float32, float64 and int64, got " + name);
}

Device to_device(py::handle value) {
  if (py::isinstance<Device>(value)) return value.cast<Device>();
  return parse_device(py::str(value).cast<std::string>());
}

Shape to_shape(py::handle shape) {
  if (py::isinstance<py::int_>(shape)) return Shape{shape.cast<std::int64_t>()};
  auto dims = shape.cast<std::vector<std::int64_t>>();
  if (dims.size() > static_cast<std::size_t>(kMaxRank))
    throw py::value_error("shape: rank " + std::to_string(dims.size()) + " exceeds mttt's " + std::to_string(kMaxRank));
  return Shape(dims);
}

std::vector<std::int64_t> to_axes(py::handle axes) {
  if (axes.is_none()) return {};
  if (py::isinstance<py::int_>(axes)) return {axes.cast<std::int64_t>()};
  return axes.cast<std::vector<std::int64_t>>();
}

std::string to_path(py::handle path, const char* op) {
  if (py::hasattr(path, "closed") && py::hasattr(path, "name")) {
    if (path.attr("closed").cast<bool>()) throw py::value_error(std::string(op) + ": the file object is closed");
    return py::str(path.attr("name")).cast<std::string>();
  }
  if (py::isinstance<py::str>(path) || py::hasattr(path, "__fspath__"))
    return py::module_::import("os").attr("fspath")(path).cast<std::string>();
  throw py::type_error(std::string(op) + ": expected a path (str or os.PathLike) or a file object, got " +
                       py::str(path.get_type().attr("__name__")).cast<std::string>());
}

py::dict to_dict(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  py::dict out;
  for (const auto& [name, t] : tensors) out[py::str(name)] = py::cast(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> from_dict(py::handle dict, const char* op) {
  if (!py::isinstance<py::dict>(dict)) throw py::type_error(std::string(op) + ": expected a dict of name -> Tensor");
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto [k, v] : dict.cast<py::dict>()) {
    std::string name = py::str(k).cast<std::string>();
    if (!py::isinstance<Tensor>(v))
      throw py::type_error(std::string(op) + ": '" + name + "' is " +
                           py::str(v.get_type().attr("__name__")).cast<std::string>() + ", expected mttt.Tensor");
    out.emplace_back(name, v.cast<Tensor>());
  }
  return out;
}

Tensor copy_from_host(const void* data, DType dtype, const Shape& shape, const Strides& strides) {
  Tensor out = Tensor::empty(shape, dtype);
  const std::size_t size = itemsize(dtype);
  if (strides == contiguous_strides(shape) || out.numel() <= 1) {
    std::memcpy(out.data_ptr(), data, static_cast<std::size_t>(out.numel()) * size);
    return out;
  }
  // Row-major walk over the source's strides (in elements; negative ones allowed).
  auto* dst = static_cast<char*>(out.data_ptr());
  const auto* src = static_cast<const char*>(data);
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    std::int64_t at = 0;
    for (int a = 0; a < shape.size(); ++a) at += index[a] * strides[a];
    std::memcpy(dst + i * size, src + at * static_cast<std::int64_t>(size), size);
    for (int a = shape.size() - 1; a >= 0; --a) {
      if (++index[a] < shape[a]) break;
      index[a] = 0;
    }
  }
  return out;
}

Tensor from_buffer(py::buffer buffer) {
  py::buffer_info info = buffer.request();
  DType dtype;
  if (info.format == py::format_descriptor<float>::format()) dtype = DType::float32;
  else if (info.format == py::format_descriptor<double>::format()) dtype = DType::float64;
  else if (info.itemsize == 8 && (info.format == "q" || info.format == "l")) dtype = DType::int64;
  else
    throw py::type_error("from_buffer: mttt holds float32, float64 and int64; got buffer format '" + info.format +
                         "': convert first (e.g. numpy's .astype(numpy.float32))");
  if (info.ndim > kMaxRank)
    throw py::value_error("from_buffer: rank " + std::to_string(info.ndim) + " exceeds mttt's " + std::to_string(kMaxRank));
  Shape shape;
  Strides strides;
  for (py::ssize_t a = 0; a < info.ndim; ++a) {
    if (info.strides[a] % info.itemsize != 0)
      throw py::value_error("from_buffer: stride of " + std::to_string(info.strides[a]) + " bytes on axis " +
                            std::to_string(a) + " is not a multiple of the item size");
    shape.push_back(info.shape[a]);
    strides.push_back(info.strides[a] / info.itemsize);
  }
  return copy_from_host(info.ptr, dtype, shape, strides);
}

Tensor as_tensor(py::handle value, const Tensor* like) {
  if (py::isinstance<Tensor>(value)) return value.cast<Tensor>();
  if (py::isinstance<py::bool_>(value) || py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) {
    TensorOptions options;
    if (like) options = {like->dtype(), like->device()};
    else options.dtype = py::isinstance<py::float_>(value) ? DType::float32 : DType::int64;
    return scalar(value.cast<double>(), options);
  }
  if (PyObject_CheckBuffer(value.ptr())) return from_buffer(py::reinterpret_borrow<py::buffer>(value));
  throw py::type_error("expected an mttt.Tensor, a number or an array, got " +
                       py::str(value.get_type().attr("__name__")).cast<std::string>());
}

}  // namespace mttt::python
