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
  if (src.device() == kCPU && dst.device() != kCPU && src.shape() == dst.shape() && src.dtype() == dst.dtype() &&
      dst.is_contiguous()) {
    // Host values straight into the destination: one queued transfer, no device temporary.
    const Tensor values = contiguous(src.detach());
    backend_of(dst).copy_from_host(values.data_ptr(), dst);
    return;
  }
  Tensor from = src.device() == dst.device() ? src.detach() : to(src.detach(), dst.device());
  if (from.shape() != dst.shape()) from = expand(from, dst.shape());
  backend_of(dst).copy(from, dst);
}

void apply_program_into(const Tensor& out, const expr::ProgramPtr& program, const std::vector<Tensor>& inputs) {
  MTTT_OP_SCOPE("fuse_into");
  check_writable(out, "fuse_into");
  check(out.is_contiguous(), "fuse_into", "the output ({}) must be contiguous", to_string(out.shape()));
  std::vector<Tensor> args;
  args.reserve(inputs.size());
  for (const Tensor& x : inputs) {
    check(x.defined(), "fuse_into", "an input is undefined");
    check((x.shape() == out.shape() || x.rank() == 0) && x.dtype() == out.dtype() && x.device() == out.device(),
          "fuse_into", "input {} {} on {} does not match the output {} {} on {}", to_string(x.shape()),
          to_string(x.dtype()), to_string(x.device()), to_string(out.shape()), to_string(out.dtype()),
          to_string(out.device()));
    args.push_back(x.detach());
  }
  const Tensor target = out.detach();
  backend_of(out).elementwise(*program, args, {&target, 1});
}

void fill_(const Tensor& dst, double value) {
  MTTT_OP_SCOPE("fill_");
  check_writable(dst, "fill_");
  backend_of(dst).fill(dst, value);
}

}  // namespace mttt
