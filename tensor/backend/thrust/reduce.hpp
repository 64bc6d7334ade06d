// The Thrust backend's reductions (sum, max, min, argmax, argmin) over any set of axes. The kept
// and the reduced axes of x are each coalesced; then either
//  (a) columns: the kept innermost axis is contiguous in x and the reduced ones are not (a bias
//      gradient: (B N, D) -> (D)): a task per block of adjacent columns (one column on CUDA,
//      whose neighbouring threads then read neighbouring addresses) over a span of the reduced
//      rows, or
//  (b) runs: every output reduces its own run (row sums, full sums, any strided rest), a group
//      of threads per run (one thread on the host, a warp or a block on CUDA: groups.hpp).
// Long reductions with few outputs are cut into chunks (spans of rows in (a)) whose partial
// results combine in chunk order, so every shape keeps all threads busy; the cuts depend on the
// shapes only, never on the thread count, and float32 sums accumulate in float64 (as the CPU
// backend does): results are the same from run to run.
#pragma once

#include <limits>
#include <optional>
#include <type_traits>

#include "tensor/backend/thrust/groups.hpp"
#include "tensor/backend/thrust/launch.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

#if defined(__CUDACC__)
constexpr int kColumnBlock = 1;           // columns per task in (a)
constexpr Index kColumnTasks = 1 << 16;   // (a) cuts rows into spans while it has fewer tasks
constexpr Index kMinSpan = 32;            // rows of the shortest span
constexpr Index kManyOutputs = 2048;      // (b) cuts runs into chunks below this many outputs
constexpr Index kRunChunk = 8192;
#else
constexpr int kColumnBlock = 256;
constexpr Index kColumnTasks = 16;
constexpr Index kMinSpan = 64;  // at least 16,384 elements a task: kMinSpan * kColumnBlock
constexpr Index kManyOutputs = 16;
constexpr Index kRunChunk = 1 << 14;
#endif

// The operations: an accumulator, update by one element (its number in the run), a commutative
// combine (so that a butterfly gives every lane the same value) and the result.
template <class T> struct SumOp {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
  using Out = T;
  MTTT_HD static Acc init() { return Acc(0); }
  MTTT_HD static void update(Acc& a, T v, Index) { a += static_cast<Acc>(v); }
  MTTT_HD Acc operator()(Acc a, Acc b) const { return a + b; }
  MTTT_HD static Out result(Acc a) { return static_cast<Out>(a); }
};

template <class T> MTTT_HD bool is_nan(T v) { return v != v; }

// NaN wins (propagates), as in NumPy and the CPU backend.
template <class T, bool kMax> struct ExtremumOp {
  using Acc = T;
  using Out = T;
  MTTT_HD static Acc init() {
    if constexpr (std::is_floating_point_v<T>)
      return kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    else
      return kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  }
  MTTT_HD static void update(Acc& a, T v, Index) {
    if (kMax ? !(v <= a) : !(v >= a)) a = is_nan(a) ? a : v;
  }
  MTTT_HD Acc operator()(Acc a, Acc b) const {
    update(a, b, 0);
    return a;
  }
  MTTT_HD static Out result(Acc a) { return a; }
};

// The first index of the extremum; a NaN counts as the extremum (the first NaN wins).
template <class T> struct ArgAcc {
  T value;
  Index index;  // -1: nothing seen
};
template <class T, bool kMax> struct ArgExtremumOp {
  using Acc = ArgAcc<T>;
  using Out = Index;
  MTTT_HD static Acc init() { return {ExtremumOp<T, kMax>::init(), -1}; }
  MTTT_HD static void update(Acc& a, T v, Index i) {  // i increases from call to call
    if (a.index < 0 || (!is_nan(a.value) && (is_nan(v) || (kMax ? v > a.value : v < a.value)))) a = {v, i};
  }
  MTTT_HD Acc operator()(Acc a, Acc b) const {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    const bool a_nan = is_nan(a.value), b_nan = is_nan(b.value);
    if (a_nan != b_nan) return a_nan ? a : b;
    if (a_nan || a.value == b.value) return a.index < b.index ? a : b;
    return (kMax ? b.value > a.value : b.value < a.value) ? b : a;
  }
  MTTT_HD static Out result(Acc a) { return a.index; }
};

// n contiguous elements summed in eight lanes combined pairwise (the compiler vectorises them).
template <class Acc, class T> MTTT_HD Acc sum_lanes(const T* p, Index n) {
  Acc lanes[8] = {};
  Index j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += static_cast<Acc>(p[j + k]);
  Acc tail(0);
  for (; j < n; ++j) tail += static_cast<Acc>(p[j]);
  return (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) + tail;
}

// (b): task = output * chunks + chunk; a chunk's result goes to `partial`, or, with one chunk
// per output, straight out.
template <class T, class Op> struct ReduceRunBody {
  using Acc = typename Op::Acc;
  const T* x;
  typename Op::Out* out;
  Acc* partial;
  Layout kept, reduced;
  Index run, chunk, chunks;

  template <class G> MTTT_HD void operator()(const G& g, Index task) const {
    const Index o = task / chunks, begin = (task % chunks) * chunk;
    const Index end = run < begin + chunk ? run : begin + chunk;
    const T* base = x + kept.offset(o);
    Acc acc = Op::init();
    if (reduced.rank <= 1) {
      const Index stride = reduced.rank == 1 ? reduced.strides[0] : 0;
      if constexpr (G::kSerial && std::is_same_v<Op, SumOp<T>>) {
        if (stride == 1) acc = sum_lanes<Acc>(base + begin, end - begin);
        else
          for (Index i = begin; i < end; ++i) Op::update(acc, base[i * stride], i);
      } else {
        for (Index i = begin + g.lane(); i < end; i += g.size()) Op::update(acc, base[i * stride], i);
      }
    } else if constexpr (G::kSerial) {  // along the innermost reduced axis, row by row
      Layout outer = reduced;
      outer.rank -= 1;
      const Index inner = reduced.shape[reduced.rank - 1], inner_stride = reduced.strides[reduced.rank - 1];
      for (Index i = begin; i < end;) {
        const Index j0 = i % inner, n = inner - j0 < end - i ? inner - j0 : end - i;
        const T* row = base + outer.offset(i / inner);
        for (Index j = 0; j < n; ++j) Op::update(acc, row[(j0 + j) * inner_stride], i + j);
        i += n;
      }
    } else {
      for (Index i = begin + g.lane(); i < end; i += g.size()) Op::update(acc, base[reduced.offset(i)], i);
    }
    acc = g.reduce(acc, Op{});
    if (g.lane() != 0) return;
    if (partial)
      partial[task] = acc;
    else
      out[o] = Op::result(acc);
  }
};

// The partial results of output o, `chunks` of them, `width` apart from the first at
// (o / width) * chunks * width + o % width, combined in order.
template <class Op> struct CombineChunksBody {
  using Acc = typename Op::Acc;
  const Acc* partial;
  typename Op::Out* out;
  Index chunks, width;

  template <class G> MTTT_HD void operator()(const G& g, Index o) const {
    const Acc* first = partial + (o / width) * chunks * width + o % width;
    Acc acc = Op::init();
    for (Index c = g.lane(); c < chunks; c += g.size()) acc = Op{}(acc, first[c * width]);
    acc = g.reduce(acc, Op{});
    if (g.lane() == 0) out[o] = Op::result(acc);
  }
};

// (a): task = ((row * spans) + span) * blocks + column block, where a row is a position of the
// kept axes but the innermost (neighbouring tasks take neighbouring columns: coalesced reads on
// CUDA); partial results are laid out [row][span][column].
template <class T, class Op> struct ReduceColumnsKernel {
  using Acc = typename Op::Acc;
  const T* x;
  typename Op::Out* out;
  Acc* partial;
  Layout outer, reduced;
  Index width, run, span, spans, blocks;

  MTTT_HD void operator()(Index task) const {
    const Index cb = task % blocks, rest = task / blocks, sp = rest % spans, r = rest / spans;
    const Index c0 = cb * kColumnBlock, n = width - c0 < kColumnBlock ? width - c0 : kColumnBlock;
    const Index begin = sp * span, end = run < begin + span ? run : begin + span;
    Acc acc[kColumnBlock];
    for (Index c = 0; c < n; ++c) acc[c] = Op::init();
    const T* first = x + outer.offset(r) + c0;
    for (Index i = begin; i < end; ++i) {
      const T* row = first + reduced.offset(i);
      for (Index c = 0; c < n; ++c) Op::update(acc[c], row[c], i);
    }
    if (spans == 1) {
      for (Index c = 0; c < n; ++c) out[r * width + c0 + c] = Op::result(acc[c]);
    } else {
      Acc* p = partial + (r * spans + sp) * width + c0;
      for (Index c = 0; c < n; ++c) p[c] = acc[c];
    }
  }
};

template <class Op> struct FillEmptyKernel {  // a sum over an empty axis
  typename Op::Out* out;
  MTTT_HD void operator()(Index o) const { out[o] = Op::result(Op::init()); }
};

template <class T, class Op>
void run_reduce(Backend& backend, const T* x, typename Op::Out* out, const Layout& kept, const Layout& reduced) {
  using Acc = typename Op::Acc;
  Index outputs = 1, run = 1;
  for (int i = 0; i < kept.rank; ++i) outputs *= kept.shape[i];
  for (int i = 0; i < reduced.rank; ++i) run *= reduced.shape[i];
  if (outputs == 0) return;
  if (run == 0) return parallel_for(outputs, FillEmptyKernel<Op>{out});
  const bool columns = kept.rank > 0 && kept.strides[kept.rank - 1] == 1 && reduced.rank > 0 &&
                       reduced.strides[reduced.rank - 1] != 1;
  if (columns) {
    Layout outer = kept;
    outer.rank -= 1;
    const Index width = kept.shape[kept.rank - 1], rows = outputs / width;
    const Index blocks = (width + kColumnBlock - 1) / kColumnBlock, tasks = rows * blocks;
    Index spans = 1;
    if (tasks < kColumnTasks) {
      const Index wanted = (kColumnTasks + tasks - 1) / tasks, most = (run + kMinSpan - 1) / kMinSpan;
      spans = std::max<Index>(1, std::min(wanted, most));
    }
    const Index span = (run + spans - 1) / spans;
    spans = (run + span - 1) / span;
    std::optional<DeviceBuffer<Acc>> partial;
    if (spans > 1) partial.emplace(backend, rows * spans * width);
    Acc* partials = spans > 1 ? partial->data() : nullptr;
    parallel_for(tasks * spans,
                 ReduceColumnsKernel<T, Op>{x, out, partials, outer, reduced, width, run, span, spans, blocks});
    if (spans > 1) for_each_group(outputs, spans, CombineChunksBody<Op>{partial->data(), out, spans, width});
    return;
  }
  const Index chunk = outputs >= kManyOutputs ? run : std::min(run, kRunChunk), chunks = (run + chunk - 1) / chunk;
  std::optional<DeviceBuffer<Acc>> partial;
  if (chunks > 1) partial.emplace(backend, outputs * chunks);
  for_each_group(outputs * chunks, chunk,
                 ReduceRunBody<T, Op>{x, out, chunks > 1 ? partial->data() : nullptr, kept, reduced, run, chunk,
                                      chunks});
  if (chunks > 1) for_each_group(outputs, chunks, CombineChunksBody<Op>{partial->data(), out, chunks, 1});
}

}  // namespace thrust_backend

using namespace thrust_backend;

void ThrustBackend::reduce(ReduceOp op, const Tensor& x, std::uint32_t axes, const Tensor& out) {
  Shape kept_shape, reduced_shape;
  Strides kept_strides, reduced_strides;
  for (int i = 0; i < x.rank(); ++i) {
    const bool reduced = (axes >> i) & 1u;
    (reduced ? reduced_shape : kept_shape).push_back(x.shape()[i]);
    (reduced ? reduced_strides : kept_strides).push_back(x.strides()[i]);
  }
  if (numel(reduced_shape) == 0 && op != ReduceOp::sum)
    throw_error("reduce", to_string(x.shape()) + ": cannot take a max, min or arg over an empty axis");
  // out is contiguous, its positions in the kept axes' order: coalescing the kept axes by x's
  // strides keeps an output's number.
  const Layout kept = mttt::thrust_backend::coalesce(kept_shape, kept_strides),
               reduced = mttt::thrust_backend::coalesce(reduced_shape, reduced_strides);
  dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* data = typed<T>(x);
    switch (op) {
      case ReduceOp::sum: return run_reduce<T, SumOp<T>>(*this, data, typed<T>(out), kept, reduced);
      case ReduceOp::max: return run_reduce<T, ExtremumOp<T, true>>(*this, data, typed<T>(out), kept, reduced);
      case ReduceOp::min: return run_reduce<T, ExtremumOp<T, false>>(*this, data, typed<T>(out), kept, reduced);
      case ReduceOp::argmax:
        return run_reduce<T, ArgExtremumOp<T, true>>(*this, data, typed<Index>(out), kept, reduced);
      case ReduceOp::argmin:
        return run_reduce<T, ArgExtremumOp<T, false>>(*this, data, typed<Index>(out), kept, reduced);
    }
  });
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
