#include "tensor/ops/matmul.hpp"

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/ops/shape_ops.hpp"

namespace mttt {

namespace {

Shape batch_of(const Tensor& t) {
  Shape s = t.shape();
  s.erase(s.size() - 1);
  s.erase(s.size() - 1);
  return s;
}

// A broadcast view for the kernel (not recorded: the op records itself as a whole).
Tensor broadcast_view(const Tensor& t, const Shape& batch) {
  Shape shape = batch;
  shape.push_back(t.shape()[t.rank() - 2]);
  shape.push_back(t.shape()[t.rank() - 1]);
  return Tensor::view_of(t.storage(), shape, broadcast_strides(t.shape(), t.strides(), shape), t.offset(), t.dtype());
}

Tensor matmul_2d_or_batched(const Tensor& a, const Tensor& b) {
  MTTT_OP_SCOPE("matmul");
  const std::int64_t m = a.size(-2), k = a.size(-1), k2 = b.size(-2), n = b.size(-1);
  if (k != k2)
    fail("matmul", "{} @ {}: inner dimensions {} and {} differ", to_string(a.shape()), to_string(b.shape()), k, k2);
  Shape batch = broadcast_shapes(batch_of(a), batch_of(b), "matmul");
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  backend_of(a).matmul(broadcast_view(a, batch), broadcast_view(b, batch), out);
  // d(AB) = dA B + A dB:  A-bar = G B^T, B-bar = A^T G (summed over broadcast batch axes)
  return record("matmul", out, {a, b}, [a, b](const Tensor& g, NeedsGrad needs) {
    Grads grads(2);
    if (needs[0]) grads[0] = sum_to(matmul(g, transpose(b)), a.shape());
    if (needs[1]) grads[1] = sum_to(matmul(transpose(a), g), b.shape());
    return grads;
  });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check(a.defined() && b.defined(), "matmul", "undefined operand");
  if (a.dtype() != b.dtype())
    fail("matmul", "{} {} @ {} {}: dtypes differ", to_string(a.shape()), to_string(a.dtype()), to_string(b.shape()),
         to_string(b.dtype()));
  if (!is_floating(a.dtype()))
    fail("matmul", "{} @ {}: needs floating-point operands, got {}", to_string(a.shape()), to_string(b.shape()),
         to_string(a.dtype()));
  if (a.device() != b.device()) fail("matmul", "operands on {} and {}", to_string(a.device()), to_string(b.device()));
  if (!(a.rank() >= 1 && b.rank() >= 1))
    fail("matmul", "{} @ {}: scalars cannot be multiplied as matrices", to_string(a.shape()), to_string(b.shape()));
  // Checked here, before a vector operand gains its axis, so that the message shows the shapes as given.
  const std::int64_t ka = a.size(-1), kb = b.rank() == 1 ? b.size(0) : b.size(-2);
  if (ka != kb)
    fail("matmul", "{} @ {}: inner dimensions {} and {} differ", to_string(a.shape()), to_string(b.shape()), ka, kb);
  if (a.rank() == 1 && b.rank() == 1) return reshape(matmul_2d_or_batched(unsqueeze(a, 0), unsqueeze(b, 1)), {});
  if (a.rank() == 1) return squeeze(matmul_2d_or_batched(unsqueeze(a, 0), b), -2);
  if (b.rank() == 1) return squeeze(matmul_2d_or_batched(a, unsqueeze(b, 1)), -1);
  if (a.rank() > 2 && b.rank() == 2) {
    // A batch of rows times one matrix (every Linear layer) is one GEMM with the batch folded
    // into the rows; its backward then takes B-bar as one product over all rows, instead of a
    // product per batch element and a sum.
    Shape out_shape = a.shape();
    out_shape[out_shape.size() - 1] = b.size(-1);
    return reshape(matmul_2d_or_batched(reshape(a, {-1, ka}), b), out_shape);
  }
  return matmul_2d_or_batched(a, b);
}

}  // namespace mttt
