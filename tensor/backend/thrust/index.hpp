// The Thrust backend's index kernels: index_select and gather (a thread per output element), and
// their adjoints index_add and scatter_add. An adjoint adds the source positions that hit one
// output position in their order along the axis, as a sequential loop would, so results do not
// depend on the thread count: with many positions along the other axes, a thread per such
// position walks the axis; with few (an embedding's gradient, a gather from one long row), the
// index is sorted stably by target (a radix sort on CUDA, its temporary memory from the caching
// allocator) and a thread per output position adds its run of sources.
//
// Index values are checked on the device (index_checks.hpp) and a bad one raises at the next
// synchronisation, after these kernels have run: so each kernel skips an index out of range
// (reading nothing, writing nothing) instead of touching memory outside the tensor.
#pragma once

#include <thrust/sort.h>

#include <bit>
#include <optional>

#if defined(__CUDACC__)
#include <cub/device/device_radix_sort.cuh>
#endif

#include "tensor/backend/thrust/launch.hpp"
#include "tensor/backend/thrust/index_checks.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

template <class T> struct IndexSelectKernel {  // out[..., j, ...] = x[..., index[j], ...]
  const T* x;
  T* out;
  const Index* index;
  AxisSplit sx, so;
  MTTT_HD void operator()(Index e) const {  // e = (rest position) * n + j
    const Index n = so.axis_size, j = e % n, rest = e / n, v = index[j];
    if (!index_in_range(v, sx.axis_size)) return;
    out[so.rest.offset(rest) + j * so.axis_stride] = x[sx.rest.offset(rest) + v * sx.axis_stride];
  }
};

template <class T> struct IndexAddKernel {  // out[..., index[j], ...] += src[..., j, ...], j in order
  T* out;
  const T* src;
  const Index* index;
  AxisSplit so, ss;
  MTTT_HD void operator()(Index rest) const {
    T* o = out + so.rest.offset(rest);
    const T* s = src + ss.rest.offset(rest);
    for (Index j = 0; j < ss.axis_size; ++j)
      if (index_in_range(index[j], so.axis_size)) o[index[j] * so.axis_stride] += s[j * ss.axis_stride];
  }
};

template <class T> struct GatherKernel {  // out[i..., j, k...] = x[i..., index[i..., j, k...], k...]
  const T* x;
  T* out;
  const Index* index;
  Layout lo, li, lx;  // out's shape; the index's, out's strides and x's strides with `axis` stride 0
  int axis;
  Index x_axis_stride, x_axis_size;
  MTTT_HD void operator()(Index e) const {
    const Index v = index[li.offset(e)];
    if (index_in_range(v, x_axis_size)) out[lo.offset(e)] = x[lx.offset(e) + v * x_axis_stride];
  }
};

template <class T> struct ScatterAddKernel {  // out[i..., index[i..., j, k...], k...] += src[i..., j, k...]
  T* out;
  const T* src;
  const Index* index;
  AxisSplit si, ss, so;  // the index's, src's and out's positions without `axis` (over the index's shape)
  Index size;            // out's size along `axis`
  MTTT_HD void operator()(Index rest) const {
    for (Index j = 0; j < si.axis_size; ++j) {
      const Index at = index[si.rest.offset(rest) + j * si.axis_stride];
      if (index_in_range(at, size))
        out[so.rest.offset(rest) + at * so.axis_stride] += src[ss.rest.offset(rest) + j * ss.axis_stride];
    }
  }
};

#if defined(__CUDACC__)
constexpr Index kWalkPositions = 1 << 14;  // fewer positions along the other axes: sort
#else
constexpr Index kWalkPositions = 16;
#endif

// The first position of `keys` (sorted, n of them) not below `key`.
MTTT_HD inline Index lower_bound(const std::uint64_t* keys, Index n, std::uint64_t key) {
  Index low = 0, high = n;
  while (low < high) {
    const Index mid = low + (high - low) / 2;
    if (keys[mid] < key)
      low = mid + 1;
    else
      high = mid;
  }
  return low;
}

// keys[e] = (position along the other axes) * size + index value, for element e of the index;
// an index out of range gets `sentinel` (past every target: it sorts last and matches none).
struct IndexKeysKernel {
  const Index* index;
  std::uint64_t* keys;
  Index* elements;
  AxisSplit si;  // the index's positions without the axis (none for index_add's 1-D index)
  Index size;    // the target axis's size
  std::uint64_t sentinel;
  MTTT_HD void operator()(Index e) const {
    const Index n = si.axis_size, rest = e / n, j = e % n, v = index[si.rest.offset(rest) + j * si.axis_stride];
    keys[e] = index_in_range(v, size) ? static_cast<std::uint64_t>(rest * size + v) : sentinel;
    elements[e] = e;
  }
};

// The elements of an index sorted stably by key: which sources hit each target, in order.
class SortedTargets {
 public:
  SortedTargets(Backend& backend, const Index* index, const AxisSplit& si, Index rests, Index size)
      : n_(rests * si.axis_size), keys_(backend, n_), elements_(backend, n_) {
    parallel_for(n_, IndexKeysKernel{index, keys_.data(), elements_.data(), si, size,
                                     static_cast<std::uint64_t>(rests * size)});
    const int bits = std::max(1, static_cast<int>(std::bit_width(static_cast<std::uint64_t>(rests * size))));
#if defined(__CUDACC__)
    const auto stream = reinterpret_cast<cudaStream_t>(current_stream(this_device()).id);
    sorted_keys_.emplace(backend, n_);
    sorted_elements_.emplace(backend, n_);
    std::size_t temp_bytes = 0;
    cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_.data(), sorted_keys_->data(), elements_.data(),
                                    sorted_elements_->data(), n_, 0, bits, stream);
    DeviceBuffer<unsigned char> temp(backend, static_cast<Index>(temp_bytes));
    launch_counters().launch();  // one sort, however many passes CUB takes
    const cudaError_t status =
        cub::DeviceRadixSort::SortPairs(temp.data(), temp_bytes, keys_.data(), sorted_keys_->data(), elements_.data(),
                                        sorted_elements_->data(), n_, 0, bits, stream);
    if (status != cudaSuccess)
      throw_error("scatter_add", std::string("sorting the index failed: ") + cudaGetErrorString(status));
#else
    (void)bits;
    launch_counters().launch();
    run_or_record([keys = keys_.data(), elements = elements_.data(), n = n_] {
      thrust::stable_sort_by_key(thrust::device, keys, keys + n, elements);
    });
#endif
  }
  const std::uint64_t* keys() const { return sorted_keys_ ? sorted_keys_->data() : keys_.data(); }
  const Index* elements() const { return sorted_elements_ ? sorted_elements_->data() : elements_.data(); }
  Index size() const { return n_; }

 private:
  Index n_;
  DeviceBuffer<std::uint64_t> keys_;
  DeviceBuffer<Index> elements_;
  std::optional<DeviceBuffer<std::uint64_t>> sorted_keys_;  // CUDA's sort does not work in place
  std::optional<DeviceBuffer<Index>> sorted_elements_;
};

// out[rest, a] += src[rest, j] for the index elements (rest', j) with key rest' * size + a, in
// order; `index_rests` is 1 when one 1-D index serves every position (index_add).
template <class T> struct AddSortedKernel {
  T* out;
  const T* src;
  const std::uint64_t* keys;
  const Index* elements;
  Index n, size, index_rests;
  AxisSplit so, ss;  // out's and src's positions without the axis
  MTTT_HD void operator()(Index position) const {
    const Index rest = position / size, a = position % size;
    const std::uint64_t key = static_cast<std::uint64_t>((index_rests == 1 ? 0 : rest) * size + a);
    const Index first = lower_bound(keys, n, key), last = lower_bound(keys, n, key + 1);
    if (first == last) return;
    const Index axis_length = ss.axis_size;
    T* o = out + so.rest.offset(rest) + a * so.axis_stride;
    const T* s = src + ss.rest.offset(rest);
    T acc = *o;
    for (Index p = first; p < last; ++p) acc += s[(elements[p] % axis_length) * ss.axis_stride];
    *o = acc;
  }
};

}  // namespace thrust_backend

using namespace thrust_backend;

void ThrustBackend::index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) {
  check_indices(index, x.shape()[axis], "index_select");
  const AxisSplit sx = split_axis(x.shape(), x.strides(), axis), so = split_axis(out.shape(), out.strides(), axis);
  dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    parallel_for(out.numel(), IndexSelectKernel<T>{typed<T>(x), typed<T>(out), typed<Index>(index), sx, so});
  });
}

void ThrustBackend::index_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) {
  check_indices(index, out.shape()[axis], "index_add");
  const AxisSplit so = split_axis(out.shape(), out.strides(), axis), ss = split_axis(src.shape(), src.strides(), axis);
  const Index rests = numel(src.shape()) / std::max<Index>(ss.axis_size, 1);
  if (rests == 0 || ss.axis_size == 0) return;
  std::optional<SortedTargets> sorted;
  if (rests < kWalkPositions)
    sorted.emplace(*this, typed<Index>(index), AxisSplit{Layout{}, index.strides()[0], index.shape()[0]}, 1,
                   so.axis_size);
  dispatch_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if (sorted)
      parallel_for(rests * so.axis_size, AddSortedKernel<T>{typed<T>(out), typed<T>(src), sorted->keys(),
                                                            sorted->elements(), sorted->size(), so.axis_size, 1, so, ss});
    else
      parallel_for(rests, IndexAddKernel<T>{typed<T>(out), typed<T>(src), typed<Index>(index), so, ss});
  });
}

void ThrustBackend::gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) {
  check_indices(index, x.shape()[axis], "gather");
  Strides xs = x.strides();
  xs[axis] = 0;  // the index supplies this axis
  dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    parallel_for(out.numel(), GatherKernel<T>{typed<T>(x), typed<T>(out), typed<Index>(index), layout_of(out),
                                              make_layout(out.shape(), index.strides()), make_layout(out.shape(), xs),
                                              axis, x.strides()[axis], x.shape()[axis]});
  });
}

void ThrustBackend::scatter_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) {
  check_indices(index, out.shape()[axis], "scatter_add");
  const AxisSplit si = split_axis(index.shape(), index.strides(), axis);
  const AxisSplit ss = split_axis(index.shape(), src.strides(), axis);
  AxisSplit so = split_axis(index.shape(), out.strides(), axis);
  const Index rests = numel(index.shape()) / std::max<Index>(si.axis_size, 1), size = out.shape()[axis];
  if (rests == 0 || si.axis_size == 0) return;
  std::optional<SortedTargets> sorted;
  if (rests < kWalkPositions) sorted.emplace(*this, typed<Index>(index), si, rests, size);
  dispatch_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if (sorted)
      parallel_for(rests * size, AddSortedKernel<T>{typed<T>(out), typed<T>(src), sorted->keys(), sorted->elements(),
                                                    sorted->size(), size, rests, so, ss});
    else
      parallel_for(rests, ScatterAddKernel<T>{typed<T>(out), typed<T>(src), typed<Index>(index), si, ss, so, size});
  });
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
