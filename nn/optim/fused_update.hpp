// An optimiser's update written into the tensor it updates: `fuse_into(p, f, p, d, ...)` runs the
// expression f(inputs...) as one pass over memory and stores it in `out` in place, as `copy_(out,
// fuse(f, inputs...))` would without the temporary and the copy. The parameters and slots keep
// their storage across steps, which is what a captured step (tensor/graph.hpp) needs: a replay
// reads and writes the addresses the capture saw.
#pragma once

#include <utility>
#include <vector>

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

// `out` is contiguous; every input has out's shape and dtype and lives on its device, or is a
// scalar (shape {}) broadcast over it. An input may be `out` itself: each element is read and
// written at the same position by the same thread. Not recorded (the caller runs under NoGrad).
template <class F, class... Ts> void fuse_into(const Tensor& out, F&& f, const Ts&... inputs) {
  expr::Builder builder(static_cast<int>(sizeof...(Ts)));
  Expr result = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return f(Expr(&builder, builder.input(static_cast<int>(I)))...);
  }(std::index_sequence_for<Ts...>{});
  MTTT_OP_SCOPE("fuse_into");
  const expr::ProgramPtr program = builder.finish(result.reg());
  const std::vector<Tensor> args{inputs.detach()...};
  check(out.is_contiguous(), "fuse_into", "the output ({}) must be contiguous", to_string(out.shape()));
  for (const Tensor& x : args)
    check((x.shape() == out.shape() || x.rank() == 0) && x.dtype() == out.dtype() && x.device() == out.device(),
          "fuse_into", "input {} {} on {} does not match the output {} {} on {}", to_string(x.shape()),
          to_string(x.dtype()), to_string(x.device()), to_string(out.shape()), to_string(out.dtype()),
          to_string(out.device()));
  const Tensor target = out.detach();
  backend_of(out).elementwise(*program, args, {&target, 1});
}

}  // namespace mttt::nn
