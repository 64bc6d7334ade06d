// The Python module's pieces: each file binds one area of the library into the module
// `mttt._core` (python/mttt/__init__.py re-exports them as `mttt`).
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>
#include <pybind11/pybind11.h>

#include "tensor/tensor.hpp"

namespace mttt::python {

namespace py = pybind11;

void bind_tensor(py::module_& m);    // tensor.cpp: Tensor, dtypes, devices, creation, NumPy, buffers
void bind_dlpack(py::module_& m);    // dlpack.cpp: __dlpack__, __dlpack_device__, from_dlpack
void bind_ops(py::module_& m);       // ops.cpp: the operations of tensor/ops and fuse over expressions
void bind_autodiff(py::module_& m);  // autodiff.cpp: grad, backward, modes, gradcheck, profiler, switches
void bind_nn(py::module_& m);        // nn.cpp: drop-in layers, the TTT layer, safetensors
void bind_models(py::module_& m);    // models.cpp: the ViT, checkpoints, verify
void bind_train(py::module_& m);     // train.cpp: the trainer with a per-record callback

// --- conversions (convert.cpp) --------------------------------------------------------------
nlohmann::json to_json(py::handle value, const std::string& where);
py::object from_json(const nlohmann::json& value);
DType parse_dtype(py::handle value);  // mttt.float32, "float32", numpy.float32, ...
Device to_device(py::handle value);   // "cpu", "cuda:1", ...
// A tensor from a Tensor, a Python number, a nested list or anything with the buffer protocol
// (copied); `like` gives the dtype and device of numbers when not null.
Tensor as_tensor(py::handle value, const Tensor* like = nullptr);
// Host memory of `dtype` read through `strides` (in elements) into a new CPU tensor.
Tensor copy_from_host(const void* data, DType dtype, const Shape& shape, const Strides& strides);
// A copy of a buffer-protocol object (NumPy arrays, memoryviews) of float32, float64 or int64.
Tensor from_buffer(py::buffer buffer);
// A shape from an int or a sequence of ints.
Shape to_shape(py::handle shape);
// Axes from None (all), an int or a sequence of ints.
std::vector<std::int64_t> to_axes(py::handle axes);
// A file path from a str, an os.PathLike or an open file object (its name); a closed file is
// a ValueError naming `op`.
std::string to_path(py::handle path, const char* op);
// A name -> Tensor dict, in order, and back.
py::dict to_dict(const std::vector<std::pair<std::string, Tensor>>& tensors);
std::vector<std::pair<std::string, Tensor>> from_dict(py::handle dict, const char* op);

// An expression of the fusion IR handed to a Python function inside `fuse`. `alive` is
// cleared when fuse returns: an expression kept past it raises instead of reading a builder
// that no longer exists.
struct PyExpr {
  expr::Expr expr;
  std::shared_ptr<bool> alive;
  expr::Expr get() const;
};

}  // namespace mttt::python
