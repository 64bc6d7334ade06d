// index_select / index_add (whole slices along one axis) and gather / scatter_add (one
// element per index). The adds run serially over the reduced positions in index order, so
// repeated indices accumulate in a fixed order.
#include "tensor/backend/cpu/cpu_backend.hpp"
#include "tensor/backend/cpu/strided.hpp"
#include "tensor/runtime.hpp"

namespace mttt {

namespace {

std::int64_t checked(std::int64_t i, std::int64_t size, const char* op) {
  if (i < -size || i >= size) fail(op, "index {} is out of range for an axis of size {}", i, size);
  return i < 0 ? i + size : i;
}

std::vector<std::int64_t> indices(const Tensor& index, std::int64_t size, const char* op) {
  auto v = index.to_vector<std::int64_t>();
  for (auto& i : v) i = checked(i, size, op);
  return v;
}

// Whether gather / scatter_add move whole rows: the index is broadcast over every axis after
// `axis` (one index per row, as when tokens are picked by a permutation) and the axes after
// `axis` are contiguous in both tensors. Then `row` is their element count.
bool row_layout(const Tensor& index, const Tensor& a, const Tensor& b, int axis, std::int64_t& row) {
  row = 1;
  for (int i = index.rank() - 1; i > axis; --i) {
    const std::int64_t n = index.shape()[i];
    if (n != 1 && (index.strides()[i] != 0 || a.strides()[i] != row || b.strides()[i] != row)) return false;
    row *= n;
  }
  return row > 1;
}

// Axes 0..axis of a shape or strides: the walk over rows.
Dims leading(const Dims& dims, int axis) {
  Dims out = dims;
  while (out.size() > axis + 1) out.erase(out.size() - 1);
  return out;
}

// For each row of a row-layout gather or scatter_add: f(indexed_offset, other_offset), where
// indexed_offset already includes the row's index along `axis` (checked against its size).
template <class F>
void for_each_row(const Tensor& indexed, const Tensor& index, const Tensor& other, int axis, const char* op, F&& f) {
  const std::int64_t size = indexed.shape()[axis], step = indexed.strides()[axis];
  const std::int64_t* id = index.data<std::int64_t>();
  Strides strides = leading(indexed.strides(), axis);
  strides[axis] = 0;  // the index supplies this axis
  const Shape rows = leading(index.shape(), axis);
  cpu::StridedWalk wa(rows, strides), wi(rows, leading(index.strides(), axis)), wb(rows, leading(other.strides(), axis));
  wa.seek(0), wi.seek(0), wb.seek(0);
  for (std::int64_t r = 0, n = numel(rows); r < n; ++r, wa.next(), wi.next(), wb.next())
    f(wa.offset() + checked(id[wi.offset()], size, op) * step, wb.offset());
}

// Calls f(src_offset, dst_offset) for every element of `shape`, walking two strided layouts.
template <class F> void for_each_pair(const Shape& shape, const Strides& a, const Strides& b, F&& f) {
  cpu::StridedWalk wa(shape, a), wb(shape, b);
  wa.seek(0);
  wb.seek(0);
  for (std::int64_t i = 0, n = numel(shape); i < n; ++i, wa.next(), wb.next()) f(wa.offset(), wb.offset());
}

// The slice of `t` at position `p` of `axis`: (shape without axis, strides without axis, offset).
struct SliceLayout {
  Shape shape;
  Strides strides;
  std::int64_t step;
};
SliceLayout slice_layout(const Tensor& t, int axis) {
  SliceLayout s{t.shape(), t.strides(), t.strides()[axis]};
  s.shape.erase(axis);
  s.strides.erase(axis);
  return s;
}

}  // namespace

void CpuBackend::index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) {
  counters_.launch();
  auto idx = indices(index, x.shape()[axis], "index_select");
  dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* xd = x.data<T>();
    T* od = out.data<T>();
    SliceLayout sx = slice_layout(x, axis), so = slice_layout(out, axis);
#pragma omp parallel for if (out.numel() >= kParallelThreshold) schedule(static)
    for (std::int64_t j = 0; j < static_cast<std::int64_t>(idx.size()); ++j) {
      const T* src = xd + idx[j] * sx.step;
      T* dst = od + j * so.step;
      for_each_pair(sx.shape, sx.strides, so.strides, [&](std::int64_t a, std::int64_t b) { dst[b] = src[a]; });
    }
  });
}

void CpuBackend::index_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) {
  counters_.launch();
  auto idx = indices(index, out.shape()[axis], "index_add");
  dispatch_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* sd = src.data<T>();
    T* od = out.data<T>();
    SliceLayout ss = slice_layout(src, axis), so = slice_layout(out, axis);
    for (std::size_t j = 0; j < idx.size(); ++j) {
      const T* s = sd + static_cast<std::int64_t>(j) * ss.step;
      T* d = od + idx[j] * so.step;
      for_each_pair(ss.shape, ss.strides, so.strides, [&](std::int64_t a, std::int64_t b) { d[b] += s[a]; });
    }
  });
}

void CpuBackend::gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) {
  counters_.launch();
  std::int64_t row = 0;
  if (row_layout(index, x, out, axis, row)) {
    dispatch_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      const T* xd = x.data<T>();
      T* od = out.data<T>();
      for_each_row(x, index, out, axis, "gather", [&](std::int64_t from, std::int64_t to) { std::copy_n(xd + from, row, od + to); });
    });
    return;
  }
  auto idx = index.to_vector<std::int64_t>();
  const std::int64_t size = x.shape()[axis];
  dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* xd = x.data<T>();
    T* od = out.data<T>();
    Strides xs = x.strides();
    xs[axis] = 0;  // the index supplies this axis
    cpu::StridedWalk wx(out.shape(), xs), wo(out.shape(), out.strides());
    wx.seek(0);
    wo.seek(0);
    for (std::int64_t i = 0; i < out.numel(); ++i, wx.next(), wo.next())
      od[wo.offset()] = xd[wx.offset() + checked(idx[i], size, "gather") * x.strides()[axis]];
  });
}

void CpuBackend::scatter_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) {
  counters_.launch();
  std::int64_t row = 0;
  if (row_layout(index, src, out, axis, row)) {
    dispatch_dtype(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      const T* sd = src.data<T>();
      T* od = out.data<T>();
      // Rows in index order, serially: repeated indices accumulate in a fixed order.
      for_each_row(out, index, src, axis, "scatter_add", [&](std::int64_t to, std::int64_t from) {
        for (std::int64_t e = 0; e < row; ++e) od[to + e] += sd[from + e];
      });
    });
    return;
  }
  auto idx = index.to_vector<std::int64_t>();
  const std::int64_t size = out.shape()[axis];
  dispatch_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* sd = src.data<T>();
    T* od = out.data<T>();
    Strides os = out.strides();
    os[axis] = 0;
    cpu::StridedWalk wo(index.shape(), os), ws(index.shape(), src.strides());
    wo.seek(0);
    ws.seek(0);
    for (std::int64_t i = 0; i < index.numel(); ++i, wo.next(), ws.next())
      od[wo.offset() + checked(idx[i], size, "scatter_add") * out.strides()[axis]] += sd[ws.offset()];
  });
}

}  // namespace mttt
