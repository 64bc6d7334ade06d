// In-place updates, for optimisers and buffers: they write into existing storage and are not
// recorded. Updating a tensor that requires grad is allowed only with grad mode off (under
// NoGrad), as an optimiser step is.
#pragma once

#include <utility>
#include <vector>

#include "tensor/core.hpp"
#include "tensor/expr/expr.hpp"

namespace mttt {

// dst <- src (broadcast to dst's shape, converted to dst's dtype, moved from src's device; host
// values of dst's shape and dtype go straight into a contiguous dst, queued without waiting).
void copy_(const Tensor& dst, const Tensor& src);
void fill_(const Tensor& dst, double value);

// out <- program(inputs) in one pass over memory, written in place: what `copy_(out,
// apply_program(program, inputs))` computes, without the temporary and the copy. `out` keeps its
// storage, which a captured step (tensor/graph.hpp) needs: a replay reads and writes the
// addresses the capture saw. `out` is contiguous; every input has out's shape, dtype and device,
// or is a scalar (shape {}) broadcast over it; an input may be `out` itself (each element is read
// and written at one position by one thread).
void apply_program_into(const Tensor& out, const expr::ProgramPtr& program, const std::vector<Tensor>& inputs);

//   fuse_into(p, [](Expr p, Expr d, Expr lr) { return p - lr * d; }, p, d, lr);
template <class F, class... Ts> void fuse_into(const Tensor& out, F&& f, const Ts&... inputs) {
  expr::Builder builder(static_cast<int>(sizeof...(Ts)));
  expr::Expr result = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return f(expr::Expr(&builder, builder.input(static_cast<int>(I)))...);
  }(std::index_sequence_for<Ts...>{});
  apply_program_into(out, builder.finish(result.reg()), std::vector<Tensor>{inputs...});
}

}  // namespace mttt
