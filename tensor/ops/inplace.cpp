#include "tensor/ops/inplace.hpp"

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/ops/shape_ops.hpp"
#include "tensor/ops/transfer.hpp"

namespace mttt {

namespace {
void check_writable(const Tensor& dst, const char* op) {
  check(dst.defined(), op, "destination is undefined");
  if (dst.requires_grad() && grad_enabled())
    fail(op, "in-place update of a {} tensor that requires grad while grad mode is on; do it under NoGrad",
         to_string(dst.shape()));
}
}  // namespace

void copy_(const Tensor& dst, const Tensor& src) {
  MTTT_OP_SCOPE("copy_");
  check_writable(dst, "copy_");
  check(src.defined(), "copy_", "source is undefined");
  Tensor from = src.device() == dst.device() ? src.detach() : to(src.detach(), dst.device());
  if (from.shape() != dst.shape()) from = expand(from, dst.shape());
  backend_of(dst).copy(from, dst);
}

void fill_(const Tensor& dst, double value) {
  MTTT_OP_SCOPE("fill_");
  check_writable(dst, "fill_");
  backend_of(dst).fill(dst, value);
}

}  // namespace mttt
