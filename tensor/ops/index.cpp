#include "tensor/ops/index.hpp"

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/creation.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/reduce.hpp"
#include "tensor/ops/shape_ops.hpp"

namespace mttt {

namespace {

void check_index(const Tensor& index, const char* op) {
  if (!(index.defined() && index.dtype() == DType::int64))
    fail(op, "indices must be an int64 tensor, got {}",
         index.defined() ? std::string(to_string(index.dtype())) : "undefined");
}

// The adjoints of index_select and gather, each differentiable in turn.
Tensor index_add_into_zeros(const Shape& shape, std::int64_t axis, const Tensor& index, const Tensor& src) {
  MTTT_OP_SCOPE("index_add");
  Tensor out = zeros(shape, {src.dtype(), src.device()});
  backend_of(src).index_add(out, static_cast<int>(axis), index, src);
  return record("index_add", out, {src}, [axis, index](const Tensor& g, NeedsGrad) {
    return Grads{index_select(g, axis, index)};
  });
}

Tensor scatter_add_into_zeros(const Shape& shape, std::int64_t axis, const Tensor& index, const Tensor& src) {
  MTTT_OP_SCOPE("scatter_add");
  Tensor out = zeros(shape, {src.dtype(), src.device()});
  backend_of(src).scatter_add(out, static_cast<int>(axis), index, src);
  return record("scatter_add", out, {src}, [axis, index](const Tensor& g, NeedsGrad) {
    return Grads{gather(g, axis, index)};
  });
}

}  // namespace

Tensor concat(const std::vector<Tensor>& tensors, std::int64_t axis_) {
  MTTT_OP_SCOPE("concat");
  check(!tensors.empty(), "concat", "needs at least one tensor");
  const Tensor& first = tensors[0];
  check(first.rank() >= 1, "concat", "cannot concatenate scalars; use stack");
  int axis = normalize_axis(axis_, first.rank(), "concat");
  Shape shape = first.shape();
  shape[axis] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.device() != first.device())
      fail("concat", "tensor {} is on {} but tensor 0 is on {}", i, to_string(t.device()), to_string(first.device()));
    if (!(t.rank() == first.rank() && t.dtype() == first.dtype() && t.device() == first.device()))
      fail("concat", "tensor {} is {} {} but tensor 0 is {} {}", i, to_string(t.shape()), to_string(t.dtype()),
           to_string(first.shape()), to_string(first.dtype()));
    for (int a = 0; a < t.rank(); ++a)
      if (!(a == axis || t.shape()[a] == first.shape()[a]))
        fail("concat", "tensor {} has shape {} but tensor 0 has {}: they may differ only on axis {}", i,
             to_string(t.shape()), to_string(first.shape()), axis);
    shape[axis] += t.shape()[axis];
  }
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  std::vector<std::int64_t> sizes;
  std::int64_t start = 0;
  for (const Tensor& t : tensors) {
    Strides strides = out.strides();
    Tensor window = Tensor::view_of(out.storage(), t.shape(), strides, start * strides[axis], out.dtype());
    backend_of(out).copy(t, window);
    sizes.push_back(t.shape()[axis]);
    start += t.shape()[axis];
  }
  return record("concat", out, tensors, [sizes, axis](const Tensor& g, NeedsGrad) { return split(g, sizes, axis); });
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t axis) {
  check(!tensors.empty(), "stack", "needs at least one tensor");
  int a = normalize_axis(axis, tensors[0].rank() + 1, "stack");
  std::vector<Tensor> expanded;
  for (const Tensor& t : tensors) {
    if (t.shape() != tensors[0].shape())
      fail("stack", "shapes {} and {} differ", to_string(tensors[0].shape()), to_string(t.shape()));
    expanded.push_back(unsqueeze(t, a));
  }
  return concat(expanded, a);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t axis_) {
  int axis = normalize_axis(axis_, x.rank(), "split");
  std::int64_t total = 0;
  for (auto s : sizes) {
    check(s >= 0, "split", "negative piece size {}", s);
    total += s;
  }
  if (total != x.shape()[axis])
    fail("split", "pieces add up to {} but axis {} of {} has size {}", total, axis, to_string(x.shape()),
         x.shape()[axis]);
  std::vector<Tensor> pieces;
  std::int64_t start = 0;
  for (auto s : sizes) {
    pieces.push_back(slice(x, axis, start, start + s));
    start += s;
  }
  return pieces;
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t axis_) {
  int axis = normalize_axis(axis_, x.rank(), "chunk");
  if (!(chunks >= 1 && x.shape()[axis] % chunks == 0))
    fail("chunk", "axis {} of {} (size {}) does not split into {} equal pieces", axis, to_string(x.shape()),
         x.shape()[axis], chunks);
  return split(x, std::vector<std::int64_t>(chunks, x.shape()[axis] / chunks), axis);
}

Tensor index_select(const Tensor& x, std::int64_t axis_, const Tensor& index) {
  MTTT_OP_SCOPE("index_select");
  check_index(index, "index_select");
  if (index.rank() != 1) fail("index_select", "indices must be 1-D, got shape {}", to_string(index.shape()));
  int axis = normalize_axis(axis_, x.rank(), "index_select");
  if (index.device() != x.device())
    fail("index_select", "input {} is on {} but the indices are on {}", to_string(x.shape()), to_string(x.device()),
         to_string(index.device()));
  Shape shape = x.shape();
  shape[axis] = index.size(0);
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  backend_of(x).index_select(x, axis, index, out);
  return record("index_select", out, {x}, [shape = x.shape(), axis, index](const Tensor& g, NeedsGrad) {
    return Grads{index_add_into_zeros(shape, axis, index, g)};
  });
}

Tensor gather(const Tensor& x, std::int64_t axis_, const Tensor& index) {
  MTTT_OP_SCOPE("gather");
  check_index(index, "gather");
  int axis = normalize_axis(axis_, x.rank(), "gather");
  if (index.device() != x.device())
    fail("gather", "input {} is on {} but the indices are on {}", to_string(x.shape()), to_string(x.device()),
         to_string(index.device()));
  if (index.rank() != x.rank())
    fail("gather", "index {} must have the rank of the input {}", to_string(index.shape()), to_string(x.shape()));
  for (int a = 0; a < x.rank(); ++a)
    if (!(a == axis || index.shape()[a] == x.shape()[a]))
      fail("gather", "index {} and input {} must agree on every axis but {}", to_string(index.shape()),
           to_string(x.shape()), axis);
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  backend_of(x).gather(x, axis, index, out);
  return record("gather", out, {x}, [shape = x.shape(), axis, index](const Tensor& g, NeedsGrad) {
    return Grads{scatter_add_into_zeros(shape, axis, index, g)};
  });
}

Tensor one_hot(const Tensor& labels, std::int64_t classes, DType dtype) {
  MTTT_OP_SCOPE("one_hot");
  check_index(labels, "one_hot");
  check(classes >= 1, "one_hot", "needs at least one class, got {}", classes);
  Tensor hot = eq(unsqueeze(labels, -1), arange(0, static_cast<double>(classes), 1, {DType::int64, labels.device()}));
  // A label out of range would silently give a row of zeros (a wrong loss, not an error). A
  // device checks without waiting for it (tensor/backend/backend.hpp).
  if (labels.device() != kCPU)
    backend_of(labels).check_index_range(labels, classes, "one_hot");
  else if (labels.numel() > 0) {
    const auto lo = min(labels).item<std::int64_t>(), hi = max(labels).item<std::int64_t>();
    if (lo < 0 || hi >= classes)
      fail("one_hot", "labels of shape {} range from {} to {}; expected 0 to {} for {} classes",
           to_string(labels.shape()), lo, hi, classes - 1, classes);
  }
  return cast(hot, dtype);
}

}  // namespace mttt
