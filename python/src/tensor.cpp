// mttt.Tensor: its properties, operators, indexing, NumPy views and the buffer protocol; the
// dtypes and the creation functions.
//
// A NumPy array or memoryview made from a tensor shares its memory and holds a reference to
// the Python tensor, so the memory outlives neither. Arrays made by mttt.tensor are copies.
#include <pybind11/numpy.h>
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include "python/src/bindings.hpp"

namespace mttt::python {
namespace {

bool on_host(const Tensor& t) { return t.device().type != DeviceType::cuda; }

std::string numpy_format(DType dtype) {
  switch (dtype) {
    case DType::float32: return py::format_descriptor<float>::format();
    case DType::float64: return py::format_descriptor<double>::format();
    default: return py::format_descriptor<std::int64_t>::format();
  }
}

std::vector<py::ssize_t> byte_strides(const Tensor& t) {
  std::vector<py::ssize_t> out;
  for (auto s : t.strides()) out.push_back(static_cast<py::ssize_t>(s * static_cast<std::int64_t>(itemsize(t.dtype()))));
  return out;
}

// A NumPy array over the tensor's memory (copied to the CPU first when it is on a GPU); it
// keeps `owner`, the Python tensor, alive. Read-only when the tensor requires grad.
py::array to_numpy(const py::object& owner) {
  Tensor t = owner.cast<Tensor>();
  py::object base = owner;
  if (!on_host(t)) {
    t = to(t.detach(), kCPU);
    base = py::cast(t);
  }
  py::array out(py::dtype(numpy_format(t.dtype())), t.shape().vec(), byte_strides(t), t.data_ptr(), base);
  if (t.requires_grad()) out.attr("flags").attr("writeable") = false;
  return out;
}

Tensor tensor_from(py::handle data, py::handle dtype, Device device, bool requires_grad) {
  Tensor out;
  if (py::isinstance<Tensor>(data)) {
    Tensor x = data.cast<Tensor>();
    out = empty(x.shape(), {dtype.is_none() ? x.dtype() : parse_dtype(dtype), x.device()});
    NoGrad off;
    copy_(out, x.detach());
  } else {
    py::module_ np = py::module_::import("numpy");
    py::object array = np.attr("asarray")(data);
    const std::string kind = array.attr("dtype").attr("kind").cast<std::string>();
    if (!dtype.is_none()) {
      array = array.attr("astype")(py::str(to_string(parse_dtype(dtype))));
    } else if (!PyObject_CheckBuffer(data.ptr())) {
      // Python numbers and lists, as PyTorch reads them: floats float32, ints and bools int64.
      if (kind == "f") array = array.attr("astype")("float32");
      else if (kind == "i" || kind == "u" || kind == "b") array = array.attr("astype")("int64");
    }
    out = from_buffer(py::reinterpret_borrow<py::buffer>(array));
  }
  if (out.device() != device) out = to(out, device);
  if (requires_grad) out.requires_grad_();
  return out;
}

// Python indexing: ints, slices (step >= 1), None, Ellipsis, and a 1-D int64 tensor (rows).
Tensor index(const Tensor& x, py::handle key) {
  py::tuple keys = py::isinstance<py::tuple>(key) ? key.cast<py::tuple>() : py::make_tuple(key);
  int consumed = 0;  // axes of x the keys address
  for (auto k : keys)
    if (!k.is_none() && !k.is(py::ellipsis())) ++consumed;
  if (consumed > x.rank())
    throw py::index_error("too many indices: " + std::to_string(consumed) + " for a tensor of rank " + std::to_string(x.rank()));
  Tensor out = x;
  std::int64_t axis = 0;  // the axis of `out` the next key addresses
  for (auto k : keys) {
    if (k.is(py::ellipsis())) {
      axis += x.rank() - consumed;
      consumed = x.rank();
    } else if (k.is_none()) {
      out = unsqueeze(out, axis++);
    } else if (py::isinstance<py::int_>(k)) {
      std::int64_t i = k.cast<std::int64_t>(), n = out.size(axis);
      if (i < -n || i >= n)
        throw py::index_error("index " + std::to_string(i) + " is out of range for axis " + std::to_string(axis) +
                              " of size " + std::to_string(n));
      out = select(out, axis, i < 0 ? i + n : i);
    } else if (py::isinstance<py::slice>(k)) {
      py::ssize_t start, stop, step, length;
      if (!k.cast<py::slice>().compute(out.size(axis), &start, &stop, &step, &length)) throw py::error_already_set();
      if (step < 1) throw py::index_error("slices with a negative step are not supported (step " + std::to_string(step) + ")");
      out = slice(out, axis++, start, stop, step);
    } else if (py::isinstance<Tensor>(k)) {
      out = index_select(out, axis++, k.cast<Tensor>());
    } else {
      throw py::type_error("indices must be ints, slices, None, Ellipsis or an int64 mttt.Tensor, got " +
                           py::str(k.get_type().attr("__name__")).cast<std::string>());
    }
  }
  return out;
}

Tensor scalar_like(double value, const Tensor& like) { return scalar(value, {like.dtype(), like.device()}); }

}  // namespace

void bind_tensor(py::module_& m) {
  py::enum_<DType>(m, "dtype", "Element types: float32, float64, int64")
      .value("float32", DType::float32)
      .value("float64", DType::float64)
      .value("int64", DType::int64)
      .export_values()
      .def("__str__", [](DType d) { return std::string(to_string(d)); }, py::prepend())
      .def("__repr__", [](DType d) { return "mttt." + std::string(to_string(d)); }, py::prepend())
      .def_property_readonly("itemsize", [](DType d) { return itemsize(d); });

  py::class_<Tensor> t(m, "Tensor", py::buffer_protocol(),
                       "A tensor of the engine: shared storage seen through a shape, strides and a dtype on a "
                       "device, and, when differentiated, a node of the tape");
  t.def(py::init([](py::object data, py::object dtype, py::object device, bool requires_grad) {
          return tensor_from(data, dtype, to_device(device), requires_grad);
        }),
        py::arg("data"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("device") = "cpu",
        py::arg("requires_grad") = false)
      .def_property_readonly("shape", [](const Tensor& x) { return py::tuple(py::cast(x.shape().vec())); })
      .def_property_readonly("ndim", &Tensor::rank)
      .def_property_readonly("dtype", &Tensor::dtype)
      .def_property_readonly("device", [](const Tensor& x) { return to_string(x.device()); })
      .def_property_readonly("strides", [](const Tensor& x) { return py::tuple(py::cast(x.strides().vec())); },
                             "in elements")
      .def_property(
          "requires_grad", &Tensor::requires_grad, [](Tensor& x, bool value) { x.requires_grad_(value); },
          "whether the tensor is on the tape; set it on leaves to have gradients flow to them")
      .def("requires_grad_", [](Tensor& x, bool value) -> Tensor& { return x.requires_grad_(value); },
           py::arg("value") = true, py::return_value_policy::reference_internal)
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def_property(
          "grad", [](const Tensor& x) -> py::object { return x.grad().defined() ? py::cast(x.grad()) : py::none(); },
          [](Tensor& x, py::object g) { x.set_grad(g.is_none() ? Tensor() : g.cast<Tensor>()); },
          "the gradient backward() accumulated (leaves only), or None")
      .def("zero_grad", &Tensor::zero_grad)
      .def("numel", &Tensor::numel)
      .def("size", [](const Tensor& x, std::int64_t axis) { return x.size(axis); }, py::arg("axis"))
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("detach", &Tensor::detach)
      .def("backward", [](const Tensor& x, py::object g, bool retain_graph) {
             x.backward(g.is_none() ? Tensor() : as_tensor(g, &x), retain_graph);
           },
           py::arg("gradient") = py::none(), py::arg("retain_graph") = false)
      .def("item", [](const Tensor& x) -> py::object {
        if (x.dtype() == DType::int64) return py::int_(x.item<std::int64_t>());
        return py::float_(x.item<double>());
      })
      .def("numpy", [](py::object self) { return to_numpy(self); },
           "a NumPy array sharing this tensor's memory (a copy for GPU tensors); read-only when it requires grad")
      .def("tolist", [](py::object self) { return to_numpy(self).attr("tolist")(); })
      .def("__array__", [](py::object self, py::object dtype) {
             py::array a = to_numpy(self);
             return dtype.is_none() ? py::object(a) : a.attr("astype")(dtype);
           },
           py::arg("dtype") = py::none())
      .def("to", [](const Tensor& x, py::object target) {
             if (py::isinstance<DType>(target)) return cast(x, target.cast<DType>());
             return to(x, to_device(target));
           },
           py::arg("target"), "a device (\"cpu\", \"cuda:0\") or a dtype")
      .def("cpu", [](const Tensor& x) { return to(x, kCPU); })
      .def("astype", [](const Tensor& x, py::object dtype) { return cast(x, parse_dtype(dtype)); })
      .def("contiguous", [](const Tensor& x) { return contiguous(x); })
      .def("reshape", [](const Tensor& x, py::args shape) {
        return reshape(x, to_shape(shape.size() == 1 ? py::object(shape[0]) : py::object(shape)));
      })
      .def("permute", [](const Tensor& x, py::args axes) {
        return permute(x, (axes.size() == 1 ? py::object(axes[0]) : py::object(axes)).cast<std::vector<std::int64_t>>());
      })
      .def("transpose", [](const Tensor& x, std::int64_t a, std::int64_t b) { return transpose(x, a, b); },
           py::arg("axis0") = -2, py::arg("axis1") = -1)
      .def_property_readonly("T", [](const Tensor& x) { return transpose(x, -2, -1); })
      .def("flatten", [](const Tensor& x, std::int64_t s, std::int64_t e) { return flatten(x, s, e); },
           py::arg("start_axis") = 0, py::arg("end_axis") = -1)
      .def("unsqueeze", [](const Tensor& x, std::int64_t a) { return unsqueeze(x, a); })
      .def("squeeze", [](const Tensor& x, std::int64_t a) { return squeeze(x, a); })
      .def("expand", [](const Tensor& x, py::args shape) {
        return expand(x, to_shape(shape.size() == 1 ? py::object(shape[0]) : py::object(shape)));
      })
      .def("__len__", [](const Tensor& x) {
        if (x.rank() == 0) throw py::type_error("len() of a rank-0 tensor");
        return x.size(0);
      })
      .def("__getitem__", [](const Tensor& x, py::handle key) { return index(x, key); })
      .def("__setitem__", [](const Tensor& x, py::handle key, py::handle value) {
        Tensor view = index(x, key);
        copy_(view, as_tensor(value, &view));
      })
      .def("__repr__", [](const Tensor& x) { return x.to_string(); })
      .def("__bool__", [](const Tensor& x) {
        if (x.numel() != 1) throw py::value_error("the truth value of a tensor with " + std::to_string(x.numel()) + " elements is ambiguous");
        return x.item<double>() != 0;
      })
      .def("__float__", [](const Tensor& x) { return x.item<double>(); })
      .def("__int__", [](const Tensor& x) { return x.item<std::int64_t>(); })
      .def("__hash__", [](py::object self) { return py::hash(py::cast(reinterpret_cast<std::uintptr_t>(self.ptr()))); });
  // NumPy defers to the reflected operators below instead of converting the tensor.
  t.attr("__array_ufunc__") = py::none();

  // Operators with tensors and Python numbers on either side (a number takes the tensor's dtype).
  t.def("__add__", [](const Tensor& a, const Tensor& b) { return a + b; })
      .def("__add__", [](const Tensor& a, double b) { return a + b; })
      .def("__radd__", [](const Tensor& a, double b) { return b + a; })
      .def("__sub__", [](const Tensor& a, const Tensor& b) { return a - b; })
      .def("__sub__", [](const Tensor& a, double b) { return a - b; })
      .def("__rsub__", [](const Tensor& a, double b) { return b - a; })
      .def("__mul__", [](const Tensor& a, const Tensor& b) { return a * b; })
      .def("__mul__", [](const Tensor& a, double b) { return a * b; })
      .def("__rmul__", [](const Tensor& a, double b) { return b * a; })
      .def("__truediv__", [](const Tensor& a, const Tensor& b) { return a / b; })
      .def("__truediv__", [](const Tensor& a, double b) { return a / b; })
      .def("__rtruediv__", [](const Tensor& a, double b) { return b / a; })
      .def("__pow__", [](const Tensor& a, const Tensor& b) { return pow(a, b); })
      .def("__pow__", [](const Tensor& a, double b) { return pow(a, b); })
      .def("__rpow__", [](const Tensor& a, double b) { return pow(scalar_like(b, a), a); })
      .def("__matmul__", [](const Tensor& a, const Tensor& b) { return matmul(a, b); })
      .def("__neg__", [](const Tensor& a) { return -a; })
      .def("__abs__", [](const Tensor& a) { return abs(a); })
      .def("__lt__", [](const Tensor& a, const Tensor& b) { return lt(a, b); })
      .def("__lt__", [](const Tensor& a, double b) { return lt(a, scalar_like(b, a)); })
      .def("__le__", [](const Tensor& a, const Tensor& b) { return le(a, b); })
      .def("__le__", [](const Tensor& a, double b) { return le(a, scalar_like(b, a)); })
      .def("__gt__", [](const Tensor& a, const Tensor& b) { return gt(a, b); })
      .def("__gt__", [](const Tensor& a, double b) { return gt(a, scalar_like(b, a)); })
      .def("__ge__", [](const Tensor& a, const Tensor& b) { return ge(a, b); })
      .def("__ge__", [](const Tensor& a, double b) { return ge(a, scalar_like(b, a)); })
      .def("__eq__", [](const Tensor& a, const Tensor& b) { return eq(a, b); })
      .def("__eq__", [](const Tensor& a, double b) { return eq(a, scalar_like(b, a)); })
      .def("__ne__", [](const Tensor& a, const Tensor& b) { return ne(a, b); })
      .def("__ne__", [](const Tensor& a, double b) { return ne(a, scalar_like(b, a)); });

  // The buffer protocol (memoryview, numpy.asarray) for tensors in host memory.
  t.def_buffer([](const Tensor& x) {
    if (!on_host(x)) throw py::buffer_error("a tensor on " + to_string(x.device()) + " has no host buffer: use .cpu() first");
    return py::buffer_info(x.data_ptr(), static_cast<py::ssize_t>(itemsize(x.dtype())), numpy_format(x.dtype()), x.rank(),
                           x.shape().vec(), byte_strides(x), /*readonly=*/x.requires_grad());
  });

  m.def("tensor", [](py::object data, py::object dtype, py::object device, bool requires_grad) {
          return tensor_from(data, dtype, to_device(device), requires_grad);
        },
        py::arg("data"), py::arg("dtype") = py::none(), py::arg("device") = "cpu", py::arg("requires_grad") = false,
        "a copy of a number, nested list, NumPy array or tensor; lists of floats become float32, of ints int64; "
        "arrays keep their dtype (float32, float64, int64) unless `dtype` converts them");
  m.def("from_buffer", &from_buffer, "a copy of a buffer-protocol object of float32, float64 or int64");

  // Creation, with the same keywords everywhere.
  auto options = [](py::object dtype, py::object device) { return TensorOptions{parse_dtype(dtype), to_device(device)}; };
  auto leaf = [](Tensor x, bool requires_grad) { return requires_grad ? x.requires_grad_() : x; };
  m.def("empty", [=](py::object s, py::object d, py::object dev, bool rg) { return leaf(empty(to_shape(s), options(d, dev)), rg); },
        py::arg("shape"), py::arg("dtype") = DType::float32, py::arg("device") = "cpu", py::arg("requires_grad") = false);
  m.def("zeros", [=](py::object s, py::object d, py::object dev, bool rg) { return leaf(zeros(to_shape(s), options(d, dev)), rg); },
        py::arg("shape"), py::arg("dtype") = DType::float32, py::arg("device") = "cpu", py::arg("requires_grad") = false);
  m.def("ones", [=](py::object s, py::object d, py::object dev, bool rg) { return leaf(ones(to_shape(s), options(d, dev)), rg); },
        py::arg("shape"), py::arg("dtype") = DType::float32, py::arg("device") = "cpu", py::arg("requires_grad") = false);
  m.def("full", [=](py::object s, double v, py::object d, py::object dev, bool rg) { return leaf(full(to_shape(s), v, options(d, dev)), rg); },
        py::arg("shape"), py::arg("value"), py::arg("dtype") = DType::float32, py::arg("device") = "cpu",
        py::arg("requires_grad") = false);
  m.def("scalar", [=](double v, py::object d, py::object dev, bool rg) { return leaf(scalar(v, options(d, dev)), rg); },
        py::arg("value"), py::arg("dtype") = DType::float32, py::arg("device") = "cpu", py::arg("requires_grad") = false);
  m.def("zeros_like", [](const Tensor& x) { return zeros_like(x); });
  m.def("ones_like", [](const Tensor& x) { return ones_like(x); });
  m.def("full_like", [](const Tensor& x, double v) { return full_like(x, v); });
  m.def("arange", [=](double start, py::object stop, double step, py::object d, py::object dev) {
          if (stop.is_none()) return arange(0, start, step, options(d, dev));
          return arange(start, stop.cast<double>(), step, options(d, dev));
        },
        py::arg("start"), py::arg("stop") = py::none(), py::arg("step") = 1.0, py::arg("dtype") = DType::float32,
        py::arg("device") = "cpu");
  m.def("eye", [=](std::int64_t n, py::object d, py::object dev) { return eye(n, options(d, dev)); }, py::arg("n"),
        py::arg("dtype") = DType::float32, py::arg("device") = "cpu");
  m.def("uniform", [=](py::object s, double low, double high, py::object d, py::object dev, bool rg) {
          return leaf(uniform(to_shape(s), low, high, options(d, dev)), rg);
        },
        py::arg("shape"), py::arg("low") = 0.0, py::arg("high") = 1.0, py::arg("dtype") = DType::float32,
        py::arg("device") = "cpu", py::arg("requires_grad") = false, "from the default generator (mttt.manual_seed)");
  m.def("normal", [=](py::object s, double mean, double std, py::object d, py::object dev, bool rg) {
          return leaf(normal(to_shape(s), mean, std, options(d, dev)), rg);
        },
        py::arg("shape"), py::arg("mean") = 0.0, py::arg("std") = 1.0, py::arg("dtype") = DType::float32,
        py::arg("device") = "cpu", py::arg("requires_grad") = false, "from the default generator (mttt.manual_seed)");
  m.def("randperm", [](std::int64_t n, py::object dev) { return randperm(n, nullptr, to_device(dev)); }, py::arg("n"),
        py::arg("device") = "cpu");
  m.def("manual_seed", [](std::uint64_t seed) { manual_seed(seed); }, py::arg("seed"));
}

}  // namespace mttt::python
