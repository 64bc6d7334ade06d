// Reductions. The reduced axes and the kept axes of x are each coalesced; then either
//  (a) each output element reduces its own strided run (the reduced axes include x's
//      innermost one, or there is a single output), or
//  (b) the kept innermost axis is contiguous in x: whole rows are accumulated into the
//      output row by row (sum over the batch of a (B, D) tensor), which reads memory in order.
// The order of accumulation never depends on the thread count: single outputs are split into
// fixed-size chunks whose partial results combine in index order.
#include <cmath>
#include <limits>
#include <type_traits>

#include <Eigen/Core>

#include "tensor/backend/cpu/cpu_backend.hpp"
#include "tensor/backend/cpu/strided.hpp"
#include "tensor/runtime.hpp"

namespace mttt {

namespace {

constexpr std::int64_t kChunk = 1 << 14;

template <class T> struct Sum {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
  static Acc init() { return 0; }
  static void update(Acc& a, T v, std::int64_t) { a += v; }
  static void combine(Acc& a, const Acc& b) { a += b; }
  static T result(const Acc& a) { return static_cast<T>(a); }
};

// NaN wins (propagates), as in NumPy.
template <class T, bool kMax> struct Extremum {
  using Acc = T;
  static Acc init() {
    if constexpr (std::is_floating_point_v<T>)
      return kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    else
      return kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  }
  static void update(Acc& a, T v, std::int64_t) {
    if (kMax ? !(v <= a) : !(v >= a)) a = (a != a) ? a : v;
  }
  static void combine(Acc& a, const Acc& b) { update(a, b, 0); }
  static T result(const Acc& a) { return a; }
};

// The first index of the extremum (NaN counts as the extremum).
template <class T, bool kMax> struct ArgExtremum {
  struct Acc {
    T value;
    std::int64_t index;
  };
  static Acc init() { return {Extremum<T, kMax>::init(), -1}; }
  static void update(Acc& a, T v, std::int64_t i) {
    if (a.index < 0 || (a.value == a.value && (v != v || (kMax ? v > a.value : v < a.value)))) a = {v, i};
  }
  static void combine(Acc& a, const Acc& b) {
    if (b.index >= 0) update(a, b.value, b.index);
  }
  static std::int64_t result(const Acc& a) { return a.index; }
};

struct Layout {
  Shape kept, reduced;
  Strides kept_x, kept_out, reduced_x;
};

Layout split_axes(const Tensor& x, std::uint32_t axes, const Tensor& out) {
  Layout l;
  Strides out_strides = contiguous_strides(out.shape());
  for (int i = 0; i < x.rank(); ++i) {
    if (axes >> i & 1u) {
      l.reduced.push_back(x.shape()[i]);
      l.reduced_x.push_back(x.strides()[i]);
    } else {
      l.kept.push_back(x.shape()[i]);
      l.kept_x.push_back(x.strides()[i]);
      l.kept_out.push_back(out_strides[i]);
    }
  }
  Strides kept_strides[2] = {l.kept_x, l.kept_out};
  cpu::coalesce(l.kept, kept_strides, 2);
  l.kept_x = kept_strides[0];
  l.kept_out = kept_strides[1];
  cpu::coalesce(l.reduced, &l.reduced_x, 1);
  return l;
}

// n floats summed in float64, in eight lanes combined pairwise: the compiler vectorises the
// lanes, where Eigen's cast<double>().sum() converts element by element and runs 3x slower.
double sum_as_double(const float* p, std::int64_t n) {
  double lanes[8] = {};
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += static_cast<double>(p[j + k]);
  double tail = 0;
  for (; j < n; ++j) tail += static_cast<double>(p[j]);
  return (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) + tail;
}

// Reduces elements [begin, end) of the reduced run that starts at `base`.
template <class R, class T>
typename R::Acc reduce_run(const T* base, const Layout& l, std::int64_t begin, std::int64_t end) {
  typename R::Acc acc = R::init();
  if constexpr (std::is_same_v<R, Sum<T>>) {
    if (l.reduced.size() == 1 && l.reduced_x[0] == 1) {
      const T* p = base + begin;
      for (std::int64_t i = begin; i < end; i += 4096) {
        std::int64_t n = std::min<std::int64_t>(4096, end - i);
        // float32 blocks are summed in float64 too (the accumulator type), not only combined in it.
        if constexpr (std::is_same_v<T, float>)
          R::combine(acc, sum_as_double(p, n));
        else
          R::combine(acc, Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(p, n).sum());
        p += n;
      }
      return acc;
    }
  }
  cpu::StridedWalk walk(l.reduced, l.reduced_x);
  walk.seek(begin);
  for (std::int64_t i = begin; i < end; ++i, walk.next()) R::update(acc, base[walk.offset()], i);
  return acc;
}

template <class R, class T, class Out> void reduce_per_output(const Tensor& x, const Layout& l, Out* out) {
  const T* data = x.data<T>();
  const std::int64_t outputs = numel(l.kept), run = numel(l.reduced);
  if (outputs == 1) {
    const std::int64_t chunks = (run + kChunk - 1) / kChunk;
    std::vector<typename R::Acc> partial(static_cast<std::size_t>(std::max<std::int64_t>(chunks, 1)), R::init());
#pragma omp parallel for if (run >= kParallelThreshold) schedule(static)
    for (std::int64_t c = 0; c < chunks; ++c)
      partial[c] = reduce_run<R>(data, l, c * kChunk, std::min(run, (c + 1) * kChunk));
    typename R::Acc acc = R::init();
    for (const auto& p : partial) R::combine(acc, p);
    out[0] = R::result(acc);
    return;
  }
#pragma omp parallel if (outputs * run >= kParallelThreshold)
  {
    cpu::StridedWalk kept_x(l.kept, l.kept_x), kept_out(l.kept, l.kept_out);
#pragma omp for schedule(static)
    for (std::int64_t o = 0; o < outputs; ++o) {
      kept_x.seek(o);
      kept_out.seek(o);
      out[kept_out.offset()] = R::result(reduce_run<R>(data + kept_x.offset(), l, 0, run));
    }
  }
}

// Path (b): kept innermost axis contiguous in x (stride 1) and in out. Each task accumulates a
// block of columns over a span of the reduced rows; when the kept rows and column blocks are too
// few to share out (a bias gradient: one row of D columns summed over B N rows), the reduced rows
// are split into spans of about kChunk elements whose partial sums combine in index order. The
// split depends on the shapes only, never on the thread count.
template <class R, class T, class Out> void reduce_rows(const Tensor& x, const Layout& l, Out* out) {
  using Acc = typename R::Acc;
  const T* data = x.data<T>();
  const std::int64_t width = l.kept.back();
  Shape outer = l.kept;
  Strides outer_x = l.kept_x, outer_out = l.kept_out;
  outer.erase(outer.size() - 1);
  outer_x.erase(outer_x.size() - 1);
  outer_out.erase(outer_out.size() - 1);
  const std::int64_t rows = numel(outer), run = numel(l.reduced);
  constexpr std::int64_t kColumns = 256, kFewTasks = 16;
  const std::int64_t column_blocks = (width + kColumns - 1) / kColumns;
  const std::int64_t span = rows * column_blocks >= kFewTasks
                                ? run
                                : std::max<std::int64_t>(kChunk / std::min(width, kColumns), 1);
  const std::int64_t spans = (run + span - 1) / span;
  // Partial sums of every (row, column block, span), kColumns apart; with one span they are the
  // result and are written straight out.
  std::vector<Acc> partial(spans > 1 ? static_cast<std::size_t>(rows * column_blocks * spans * kColumns) : 0);
#pragma omp parallel if (rows * width * run >= kParallelThreshold)
  {
    std::vector<Acc> acc(kColumns);
    cpu::StridedWalk ox(outer, outer_x), oo(outer, outer_out), red(l.reduced, l.reduced_x);
#pragma omp for schedule(static) collapse(3)
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t cb = 0; cb < column_blocks; ++cb) {
        for (std::int64_t sp = 0; sp < spans; ++sp) {
          const std::int64_t c0 = cb * kColumns, n = std::min(kColumns, width - c0);
          const std::int64_t begin = sp * span, end = std::min(run, begin + span);
          ox.seek(r);
          std::fill(acc.begin(), acc.begin() + n, R::init());
          red.seek(begin);
          for (std::int64_t i = begin; i < end; ++i, red.next()) {
            const T* row = data + ox.offset() + red.offset() + c0;
            for (std::int64_t c = 0; c < n; ++c) R::update(acc[c], row[c], i);
          }
          if (spans > 1) {
            std::copy(acc.begin(), acc.begin() + n, partial.begin() + ((r * column_blocks + cb) * spans + sp) * kColumns);
            continue;
          }
          oo.seek(r);
          Out* o = out + oo.offset() + c0;
          for (std::int64_t c = 0; c < n; ++c) o[c] = R::result(acc[c]);
        }
      }
    }
  }
  if (spans == 1) return;
  cpu::StridedWalk oo(outer, outer_out);
  for (std::int64_t r = 0; r < rows; ++r) {
    oo.seek(r);
    for (std::int64_t cb = 0; cb < column_blocks; ++cb) {
      const std::int64_t c0 = cb * kColumns, n = std::min(kColumns, width - c0);
      const Acc* first = partial.data() + (r * column_blocks + cb) * spans * kColumns;
      Out* o = out + oo.offset() + c0;
      for (std::int64_t c = 0; c < n; ++c) {
        Acc a = first[c];
        for (std::int64_t sp = 1; sp < spans; ++sp) R::combine(a, first[sp * kColumns + c]);
        o[c] = R::result(a);
      }
    }
  }
}

template <class R, class T, class Out> void run(const Tensor& x, std::uint32_t axes, const Tensor& out) {
  Layout l = split_axes(x, axes, out);
  Out* o = static_cast<Out*>(out.data_ptr());
  if (numel(l.reduced) == 0) {
    for (std::int64_t i = 0; i < out.numel(); ++i) o[i] = R::result(R::init());
    return;
  }
  if (l.reduced.empty()) l.reduced = {1}, l.reduced_x = {0};
  bool rows = !l.kept.empty() && l.kept_x.back() == 1 && l.kept_out.back() == 1 && l.reduced_x.back() != 1;
  if (rows)
    reduce_rows<R, T, Out>(x, l, o);
  else
    reduce_per_output<R, T, Out>(x, l, o);
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Tensor& x, std::uint32_t axes, const Tensor& out) {
  counters_.launch();
  dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    switch (op) {
      case ReduceOp::sum: return run<Sum<T>, T, T>(x, axes, out);
      case ReduceOp::max: return run<Extremum<T, true>, T, T>(x, axes, out);
      case ReduceOp::min: return run<Extremum<T, false>, T, T>(x, axes, out);
      case ReduceOp::argmax: return run<ArgExtremum<T, true>, T, std::int64_t>(x, axes, out);
      case ReduceOp::argmin: return run<ArgExtremum<T, false>, T, std::int64_t>(x, axes, out);
    }
  });
}

}  // namespace mttt
