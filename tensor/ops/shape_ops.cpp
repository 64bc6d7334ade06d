#include "tensor/ops/shape_ops.hpp"

#include <algorithm>
#include <numeric>
#include <optional>

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/creation.hpp"
#include "tensor/ops/reduce.hpp"

namespace mttt {

namespace {

Tensor make_view(const Tensor& x, const Shape& shape, const Strides& strides, std::int64_t offset) {
  return Tensor::view_of(x.storage(), shape, strides, offset, x.dtype());
}

Shape infer_shape(const Tensor& x, Shape shape) {
  int inferred = -1;
  std::int64_t known = 1;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (inferred >= 0)
        fail("reshape", "{} -> {}: only one dimension can be -1", to_string(x.shape()), to_string(shape));
      inferred = i;
    } else {
      if (shape[i] < 0) fail("reshape", "{} -> {}: negative dimension", to_string(x.shape()), to_string(shape));
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    if (!(known != 0 && x.numel() % known == 0))
      fail("reshape", "{} -> {}: {} elements do not divide into the known dimensions", to_string(x.shape()),
           to_string(shape), x.numel());
    shape[inferred] = x.numel() / known;
  }
  if (numel(shape) != x.numel())
    fail("reshape", "{} ({} elements) -> {} ({} elements)", to_string(x.shape()), x.numel(), to_string(shape),
         numel(shape));
  return shape;
}

// The view of `slice`'s adjoint: g placed into zeros of the input's shape.
Tensor embed_slice(const Tensor& g, const Shape& shape, int axis, std::int64_t start, std::int64_t step) {
  MTTT_OP_SCOPE("embed_slice");
  Tensor out = zeros(shape, {g.dtype(), g.device()});
  Strides strides = out.strides();
  std::int64_t offset = start * strides[axis];
  strides[axis] *= step;
  backend_of(out).copy(g, make_view(out, g.shape(), strides, offset));
  std::int64_t stop = start + (g.shape()[axis] - 1) * step + 1;
  return record("embed_slice", out, {g}, [axis, start, stop, step](const Tensor& gg, NeedsGrad) {
    return Grads{slice(gg, axis, start, stop, step)};
  });
}

// Strides that read `x` in the new shape without a copy, if there are any: each run of old
// axes that is merged or split must itself be contiguous (as PyTorch's view rule).
std::optional<Strides> view_strides(const Tensor& x, const Shape& shape) {
  if (x.numel() == 0 || x.is_contiguous()) return contiguous_strides(shape);
  Strides out = Dims::filled(shape.size(), 0);
  const Shape& old_shape = x.shape();
  const Strides& old_strides = x.strides();
  int view_d = shape.size() - 1;
  std::int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides[old_strides.size() - 1];
  std::int64_t tensor_numel = 1, view_numel = 1;
  for (int d = old_shape.size() - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    // A chunk ends where the old axes stop being contiguous with each other.
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& requested) {
  Shape shape = infer_shape(x, requested);
  if (shape == x.shape()) return x;
  MTTT_OP_SCOPE("reshape");
  auto strides = view_strides(x, shape);
  Tensor source = strides ? x : contiguous(x);
  Tensor out = make_view(source, shape, strides ? *strides : contiguous_strides(shape), source.offset());
  return record("reshape", out, {source}, [from = x.shape()](const Tensor& g, NeedsGrad) {
    return Grads{reshape(g, from)};
  });
}

Tensor flatten(const Tensor& x, std::int64_t start_axis, std::int64_t end_axis) {
  if (x.rank() == 0) return reshape(x, {1});
  int s = normalize_axis(start_axis, x.rank(), "flatten"), e = normalize_axis(end_axis, x.rank(), "flatten");
  check(s <= e, "flatten", "start axis {} is after end axis {}", start_axis, end_axis);
  Shape shape;
  for (int i = 0; i < s; ++i) shape.push_back(x.shape()[i]);
  std::int64_t n = 1;
  for (int i = s; i <= e; ++i) n *= x.shape()[i];
  shape.push_back(n);
  for (int i = e + 1; i < x.rank(); ++i) shape.push_back(x.shape()[i]);
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& axes) {
  MTTT_OP_SCOPE("permute");
  const int rank = x.rank();
  if (static_cast<int>(axes.size()) != rank)
    fail("permute", "{} axes given for a tensor of shape {}", axes.size(), to_string(x.shape()));
  std::vector<std::int64_t> inverse(rank, -1);
  Shape shape;
  Strides strides;
  for (int i = 0; i < rank; ++i) {
    int a = normalize_axis(axes[i], rank, "permute");
    if (inverse[a] >= 0) fail("permute", "axis {} appears twice in {}", a, to_string(Dims(axes)));
    inverse[a] = i;
    shape.push_back(x.shape()[a]);
    strides.push_back(x.strides()[a]);
  }
  Tensor out = make_view(x, shape, strides, x.offset());
  return record("permute", out, {x}, [inverse](const Tensor& g, NeedsGrad) { return Grads{permute(g, inverse)}; });
}

Tensor transpose(const Tensor& x, std::int64_t axis0, std::int64_t axis1) {
  std::vector<std::int64_t> axes(x.rank());
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[normalize_axis(axis0, x.rank(), "transpose")], axes[normalize_axis(axis1, x.rank(), "transpose")]);
  return permute(x, axes);
}

Tensor slice(const Tensor& x, std::int64_t axis_, std::int64_t start, std::int64_t stop, std::int64_t step) {
  MTTT_OP_SCOPE("slice");
  int axis = normalize_axis(axis_, x.rank(), "slice");
  check(step >= 1, "slice", "step must be at least 1, got {}", step);
  const std::int64_t n = x.shape()[axis];
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  stop = std::clamp<std::int64_t>(stop, start, n);
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape[axis] = (stop - start + step - 1) / step;
  strides[axis] *= step;
  Tensor out = make_view(x, shape, strides, x.offset() + start * x.strides()[axis]);
  return record("slice", out, {x}, [from = x.shape(), axis, start, step](const Tensor& g, NeedsGrad) {
    return Grads{embed_slice(g, from, axis, start, step)};
  });
}

Tensor select(const Tensor& x, std::int64_t axis, std::int64_t index) {
  int a = normalize_axis(axis, x.rank(), "select");
  const std::int64_t n = x.shape()[a];
  check(index >= -n && index < n, "select", "index {} is out of range for axis {} of size {}", index, a, n);
  if (index < 0) index += n;
  return squeeze(slice(x, a, index, index + 1), a);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  MTTT_OP_SCOPE("expand");
  if (shape.size() < x.rank())
    fail("expand", "cannot expand {} to fewer dimensions {}", to_string(x.shape()), to_string(shape));
  for (int i = 0; i < x.rank(); ++i) {
    std::int64_t have = x.shape()[i], want = shape[shape.size() - x.rank() + i];
    if (!(have == want || have == 1))
      fail("expand", "cannot expand {} to {}: axis {} has size {}, not 1 or {}", to_string(x.shape()), to_string(shape),
           i, have, want);
  }
  Tensor out = make_view(x, shape, broadcast_strides(x.shape(), x.strides(), shape), x.offset());
  return record("expand", out, {x}, [from = x.shape()](const Tensor& g, NeedsGrad) { return Grads{sum_to(g, from)}; });
}

Tensor squeeze(const Tensor& x, std::int64_t axis_) {
  MTTT_OP_SCOPE("squeeze");
  int axis = normalize_axis(axis_, x.rank(), "squeeze");
  if (x.shape()[axis] != 1)
    fail("squeeze", "axis {} of {} has size {}, not 1", axis, to_string(x.shape()), x.shape()[axis]);
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape.erase(axis);
  strides.erase(axis);
  Tensor out = make_view(x, shape, strides, x.offset());
  return record("squeeze", out, {x}, [axis](const Tensor& g, NeedsGrad) { return Grads{unsqueeze(g, axis)}; });
}

Tensor unsqueeze(const Tensor& x, std::int64_t axis_) {
  MTTT_OP_SCOPE("unsqueeze");
  // The new axis ranges over the output's rank + 1 positions: -(rank + 1) .. rank.
  if (axis_ < -(x.rank() + 1) || axis_ > x.rank())
    fail("unsqueeze", "axis {} is out of range for inserting an axis into {} (expected {} to {})", axis_,
         to_string(x.shape()), -(x.rank() + 1), x.rank());
  int axis = static_cast<int>(axis_ < 0 ? axis_ + x.rank() + 1 : axis_);
  Shape shape = x.shape();
  Strides strides = x.strides();
  std::int64_t stride = axis < x.rank() ? x.strides()[axis] * x.shape()[axis] : 1;
  shape.insert(axis, 1);
  strides.insert(axis, stride);
  Tensor out = make_view(x, shape, strides, x.offset());
  return record("unsqueeze", out, {x}, [axis](const Tensor& g, NeedsGrad) { return Grads{squeeze(g, axis)}; });
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  MTTT_OP_SCOPE("contiguous");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_of(x).copy(x, out);
  return record("contiguous", out, {x}, [](const Tensor& g, NeedsGrad) { return Grads{g}; });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (x.rank() < shape.size())
    fail("sum_to", "cannot sum {} to the larger rank of {}", to_string(x.shape()), to_string(shape));
  const int lead = x.rank() - shape.size();
  Axes axes;
  for (int i = 0; i < x.rank(); ++i) {
    if (i < lead) {
      axes.push_back(i);
      continue;
    }
    std::int64_t want = shape[i - lead];
    if (!(want == x.shape()[i] || want == 1))
      fail("sum_to", "cannot sum {} to {}: axis {} has size {}", to_string(x.shape()), to_string(shape), i,
           x.shape()[i]);
    if (want == 1 && x.shape()[i] != 1) axes.push_back(i);
  }
  return reshape(sum(x, axes, true), shape);
}

}  // namespace mttt
