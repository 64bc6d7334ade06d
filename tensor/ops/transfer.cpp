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

}  // namespace mttt
