#include "tensor/ops/transfer.hpp"

#include <vector>

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"

namespace mttt {

Tensor to(const Tensor& x, Device device) {
  check(x.defined(), "to", "undefined tensor");
  if (x.device() == device) return x;
  MTTT_OP_SCOPE("to");
  // Through host memory: the only memory every backend can read and write.
  std::vector<unsigned char> staged(static_cast<std::size_t>(x.numel()) * itemsize(x.dtype()));
  backend_of(x).copy_to_host(x, staged.data());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), device);
  backend(device).copy_from_host(staged.data(), out);
  const Device source = x.device();
  return record("to", out, {x}, [source](const Tensor& g, NeedsGrad) { return Grads{to(g, source)}; });
}

Tensor from_host(const void* source, const Shape& shape, TensorOptions options) {
  check(source != nullptr || numel(shape) == 0, "from_host", "null source for shape {}", to_string(shape));
  Tensor out = Tensor::empty(shape, options.dtype, options.device);
  backend(options.device).copy_from_host(source, out);
  return out;
}

void copy_to_host(const Tensor& x, void* destination) {
  check(x.defined(), "copy_to_host", "undefined tensor");
  check(destination != nullptr || x.numel() == 0, "copy_to_host", "null destination for {} {}", to_string(x.dtype()),
        to_string(x.shape()));
  backend_of(x).copy_to_host(x, destination);
}

}  // namespace mttt
