// DLPack exchange (https://dmlc.github.io/dlpack/latest/python_spec.html), the header from
// Debian's libdlpack-dev.
//
// Export is zero-copy: the DLManagedTensor holds a C++ handle to the tensor (not the Python
// object), so a consumer (NumPy, PyTorch, JAX) keeps the storage alive from any thread and the
// deleter needs no GIL. A capsule that no consumer took frees it when it is collected.
// Import is zero-copy too: the tensor views the producer's memory through an adopted Storage
// whose release calls the producer's deleter (under the GIL: NumPy's and PyTorch's deleters drop
// Python references), so the source lives as long as any view of it. Memory mttt's views cannot
// describe (negative strides, an address not aligned to the element) is copied instead. Only
// float32, float64 and int64 are accepted; any other type is refused, never reinterpreted.
#include <dlpack/dlpack.h>

#include <pybind11/stl.h>

#include "python/src/bindings.hpp"

namespace mttt::python {
namespace {

constexpr const char* kCapsuleName = "dltensor";
constexpr const char* kUsedCapsuleName = "used_dltensor";

struct ExportedTensor {
  Tensor tensor;  // keeps the storage alive
  std::vector<std::int64_t> shape, strides;
  DLManagedTensor managed{};
};

DLDevice dl_device(Device device) {
  // thrust-host memory is ordinary host memory.
  if (device.type == DeviceType::cuda) return {kDLCUDA, device.index};
  return {kDLCPU, 0};
}

DLDataType dl_dtype(DType dtype) {
  switch (dtype) {
    case DType::float32: return {kDLFloat, 32, 1};
    case DType::float64: return {kDLFloat, 64, 1};
    default: return {kDLInt, 64, 1};
  }
}

std::string describe(DLDataType t) {
  const char* code = t.code == kDLInt ? "int" : t.code == kDLUInt ? "uint" : t.code == kDLFloat ? "float"
                   : t.code == kDLBfloat ? "bfloat" : "type code ";
  std::string out = code + (t.code > kDLBfloat ? std::to_string(t.code) + "/" : std::string()) + std::to_string(t.bits);
  return t.lanes == 1 ? out : out + "x" + std::to_string(t.lanes);
}

void capsule_destructor(PyObject* capsule) {
  // Only a capsule that nobody consumed still owns its tensor.
  if (!PyCapsule_IsValid(capsule, kCapsuleName)) return;
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, kCapsuleName));
  if (managed && managed->deleter) managed->deleter(managed);
}

py::capsule to_dlpack(const Tensor& x, py::object stream) {
  if (x.device().type == DeviceType::cuda) {
    // The consumer reads on its own stream: the work queued on ours must be done first.
    synchronize(current_stream(x.device()));
  } else if (!stream.is_none()) {
    throw py::value_error("__dlpack__: stream must be None for a tensor on " + to_string(x.device()));
  }
  auto* holder = new ExportedTensor{x.detach(), x.shape().vec(), x.strides().vec(), {}};
  DLTensor& t = holder->managed.dl_tensor;
  t.data = holder->tensor.data_ptr();
  t.device = dl_device(x.device());
  t.ndim = x.rank();
  t.dtype = dl_dtype(x.dtype());
  t.shape = holder->shape.data();
  t.strides = holder->strides.data();
  t.byte_offset = 0;
  holder->managed.manager_ctx = holder;
  holder->managed.deleter = [](DLManagedTensor* self) { delete static_cast<ExportedTensor*>(self->manager_ctx); };
  return py::capsule(&holder->managed, kCapsuleName, &capsule_destructor);
}

Tensor import_capsule(py::capsule capsule) {
  if (!PyCapsule_IsValid(capsule.ptr(), kCapsuleName))
    throw py::value_error("from_dlpack: the capsule is not an unused DLPack tensor (was it consumed already?)");
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), kCapsuleName));
  const DLTensor& t = managed->dl_tensor;
  if (t.device.device_type != kDLCPU && t.device.device_type != kDLCUDAHost)
    throw py::value_error("from_dlpack: DLPack device type " + std::to_string(t.device.device_type) +
                          " is not host memory; mttt imports from the CPU (move it there first, e.g. x.cpu())");
  DType dtype;
  if (t.dtype.lanes == 1 && t.dtype.code == kDLFloat && t.dtype.bits == 32) dtype = DType::float32;
  else if (t.dtype.lanes == 1 && t.dtype.code == kDLFloat && t.dtype.bits == 64) dtype = DType::float64;
  else if (t.dtype.lanes == 1 && t.dtype.code == kDLInt && t.dtype.bits == 64) dtype = DType::int64;
  else
    throw py::type_error("from_dlpack: mttt holds float32, float64 and int64; got " + describe(t.dtype) +
                         ": convert first (numpy: .astype(numpy.float32); torch: .to(torch.float32))");
  if (t.ndim > kMaxRank)
    throw py::value_error("from_dlpack: rank " + std::to_string(t.ndim) + " exceeds mttt's " + std::to_string(kMaxRank));
  Shape shape;
  for (int a = 0; a < t.ndim; ++a) shape.push_back(t.shape[a]);
  Strides strides = t.strides ? Strides(std::vector<std::int64_t>(t.strides, t.strides + t.ndim)) : contiguous_strides(shape);
  const char* first = static_cast<const char*>(t.data) + t.byte_offset;
  const auto item = static_cast<std::int64_t>(itemsize(dtype));
  bool viewable = reinterpret_cast<std::uintptr_t>(first) % static_cast<std::uintptr_t>(item) == 0;
  std::int64_t last = 0;  // the farthest element from the first, in elements
  for (int a = 0; a < t.ndim; ++a) {
    viewable = viewable && strides[a] >= 0;
    if (shape[a] > 0) last += (shape[a] - 1) * strides[a];
  }
  PyCapsule_SetName(capsule.ptr(), kUsedCapsuleName);  // consumed, whatever happens next
  if (!viewable || numel(shape) == 0) {
    Tensor out = copy_from_host(first, dtype, shape, strides);
    if (managed->deleter) managed->deleter(managed);  // the producer's memory goes back now
    return out;
  }
  auto release = [managed] {
    if (!Py_IsInitialized() || !managed->deleter) return;  // at exit, Python may be gone first
    py::gil_scoped_acquire gil;
    managed->deleter(managed);
  };
  auto storage = std::make_shared<Storage>(const_cast<char*>(first), static_cast<std::size_t>((last + 1) * item), kCPU,
                                           std::move(release));
  Tensor out = Tensor::view_of(std::move(storage), shape, strides, 0, dtype);
  return out;
}

}  // namespace

void bind_dlpack(py::module_& m) {
  py::class_<Tensor> t = py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"));
  // max_version, dl_device and copy are the 2023 revision's keywords: the capsule stays the
  // unversioned kind, which such consumers accept from producers that do not version.
  t.def("__dlpack__", [](const Tensor& x, py::object stream, py::object /*max_version*/, py::object device, py::object copy) {
          if (!device.is_none()) {
            auto wanted = device.cast<std::pair<int, int>>();
            DLDevice d = dl_device(x.device());
            if (wanted.first != static_cast<int>(d.device_type) || wanted.second != d.device_id)
              throw py::buffer_error("__dlpack__: the tensor is on " + to_string(x.device()) + "; export to another device is not supported");
          }
          if (copy.is_none() || !copy.cast<bool>()) return to_dlpack(x, stream);
          Tensor fresh = empty(x.shape(), {x.dtype(), x.device()});
          copy_(fresh, x.detach());
          return to_dlpack(fresh, stream);
        },
        py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(),
        py::arg("copy") = py::none(), "a DLPack capsule sharing this tensor's memory (its values: the tape does not travel)");
  t.def("__dlpack_device__", [](const Tensor& x) {
    DLDevice d = dl_device(x.device());
    return py::make_tuple(static_cast<int>(d.device_type), d.device_id);
  });
  m.def("to_dlpack", [](const Tensor& x) { return to_dlpack(x, py::none()); }, py::arg("tensor"),
        "a DLPack capsule sharing the tensor's memory, for consumers that take capsules (torch.utils.dlpack)");
  m.def("from_dlpack", [](py::object source) {
          if (py::isinstance<py::capsule>(source)) return import_capsule(source.cast<py::capsule>());
          if (!py::hasattr(source, "__dlpack__"))
            throw py::type_error("from_dlpack: expected an object with __dlpack__ (a NumPy array, a PyTorch or JAX "
                                 "tensor) or a DLPack capsule, got " +
                                 py::str(source.get_type().attr("__name__")).cast<std::string>());
          if (py::hasattr(source, "__dlpack_device__")) {
            auto device = source.attr("__dlpack_device__")().cast<std::pair<int, int>>();
            if (device.first != kDLCPU && device.first != kDLCUDAHost)
              throw py::value_error("from_dlpack: the source is on DLPack device type " + std::to_string(device.first) +
                                    "; mttt imports from the CPU (move it there first, e.g. x.cpu())");
          }
          return import_capsule(source.attr("__dlpack__")().cast<py::capsule>());
        },
        py::arg("source"),
        "a tensor sharing a DLPack tensor's memory (NumPy, PyTorch, JAX) on the CPU: float32, float64 or int64");
}

}  // namespace mttt::python
