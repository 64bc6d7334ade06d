// Moving tensors between devices, and between tensors and host memory.
#pragma once

#include "tensor/core.hpp"
#include "tensor/creation.hpp"

namespace mttt {

// x's values on `device` (x itself when it is there already); differentiable: the gradient
// goes back to x's device.
Tensor to(const Tensor& x, Device device);

// A new tensor on options.device holding numel(shape) elements of options.dtype read, row-major,
// from host memory (numel(shape) * itemsize(options.dtype) bytes at `source`). Not recorded.
Tensor from_host(const void* source, const Shape& shape, TensorOptions options = {});
// Writes x's elements, row-major, in x's dtype, to host memory (x.numel() * itemsize(x.dtype())
// bytes at `destination`), from any device and any layout. Not recorded.
void copy_to_host(const Tensor& x, void* destination);

}  // namespace mttt
