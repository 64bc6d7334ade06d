#include "tensor/core.hpp"

#include <cstring>

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/object_pool.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/shape_ops.hpp"

namespace mttt {

Storage::Storage(std::size_t bytes, Device device) : bytes_(bytes), device_(device), backend_(&mttt::backend(device)) {
  data_ = backend_->allocate(std::max<std::size_t>(bytes, 1));
}

Storage::Storage(void* data, std::size_t bytes, Device device, std::function<void()> release)
    : data_(data), bytes_(bytes), device_(device), backend_(&mttt::backend(device)), release_(std::move(release)) {}

Storage::~Storage() {
  if (release_)
    release_();
  else
    backend_->deallocate(data_, std::max<std::size_t>(bytes_, 1));
}

void Tensor::undefined_error() { throw_error("tensor", "use of an undefined tensor"); }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  // The message is formatted only on failure: this runs for every tensor an op creates.
  for (auto d : shape)
    if (d < 0) fail("empty", "negative dimension in shape {}", mttt::to_string(shape));
  auto impl = pool::make_shared<TensorImpl>();
  impl->storage = pool::make_shared<Storage>(static_cast<std::size_t>(mttt::numel(shape)) * itemsize(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, const Shape& shape, const Strides& strides,
                       std::int64_t offset, DType dtype) {
  auto impl = pool::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

std::int64_t Tensor::size(std::int64_t axis) const { return shape()[normalize_axis(axis, rank(), "size")]; }

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

template <class T> T* Tensor::data() const {
  if (dtype() != dtype_of<T>())
    fail("data", "tensor holds {}, not {}", mttt::to_string(dtype()), mttt::to_string(dtype_of<T>()));
  return static_cast<T*>(storage()->data()) + offset();
}

void* Tensor::data_ptr() const {
  return static_cast<char*>(storage()->data()) + offset() * static_cast<std::int64_t>(itemsize(dtype()));
}

template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template std::int64_t* Tensor::data<std::int64_t>() const;

Tensor& Tensor::requires_grad_(bool value) {
  auto& i = impl();
  if (!value) {
    check(!i.node || i.node->is_leaf(), "requires_grad_",
          "only a leaf can stop requiring grad; use detach() for a value computed by an op");
    i.node.reset();
    return *this;
  }
  if (!is_floating(dtype()))
    fail("requires_grad_", "only floating-point tensors can require grad, not {}", mttt::to_string(dtype()));
  if (!i.node) i.node = std::make_shared<autodiff::LeafNode<Tensor>>();
  check(i.node->is_leaf(), "requires_grad_", "the tensor was produced by '{}'; only leaves can be marked",
        i.node->name());
  return *this;
}

bool Tensor::is_leaf() const { return !impl().node || impl().node->is_leaf(); }

Tensor Tensor::grad() const {
  const auto& node = impl().node;
  if (!node || !node->is_leaf()) return Tensor();
  return static_cast<autodiff::LeafNode<Tensor>&>(*node).grad;
}

void Tensor::set_grad(const Tensor& grad) {
  const auto& node = impl().node;
  check(node && node->is_leaf(), "set_grad", "only leaves that require grad hold a gradient");
  if (grad.defined())
    if (grad.shape() != shape())
      fail("set_grad", "gradient shape {} differs from the tensor's {}", mttt::to_string(grad.shape()),
           mttt::to_string(shape()));
  static_cast<autodiff::LeafNode<Tensor>&>(*node).grad = grad.defined() ? grad.detach() : Tensor();
}

Tensor Tensor::detach() const {
  const auto& i = impl();
  return view_of(i.storage, i.shape, i.strides, i.offset, i.dtype);
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  mttt::backward({*this}, grad_output.defined() ? std::vector<Tensor>{grad_output} : std::vector<Tensor>{}, retain_graph);
}

template <class T> std::vector<T> Tensor::to_vector() const {
  Tensor c = detach();
  if (c.dtype() != dtype_of<T>()) c = cast(c, dtype_of<T>());
  std::vector<T> out(static_cast<std::size_t>(c.numel()));
  backend_of(c).copy_to_host(c, out.data());
  return out;
}

template <class T> T Tensor::item() const {
  if (numel() != 1) fail("item", "item() needs a single-element tensor, got shape {}", mttt::to_string(shape()));
  return to_vector<T>()[0];
}

template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template std::int64_t Tensor::item<std::int64_t>() const;
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

std::string Tensor::to_string(int max_elements) const {
  if (!defined()) return "Tensor(undefined)";
  std::string out = fmt::format("Tensor(shape={}, dtype={}, device={}", mttt::to_string(shape()),
                                mttt::to_string(dtype()), mttt::to_string(device()));
  if (requires_grad()) out += fmt::format(", grad_fn={}", node()->name());
  out += ", values=[";
  auto n = std::min<std::int64_t>(numel(), max_elements);
  Tensor flat = reshape(contiguous(detach()), {numel()});
  if (dtype() == DType::int64) {
    auto v = flat.to_vector<std::int64_t>();
    out += fmt::format("{}", fmt::join(v.begin(), v.begin() + n, ", "));
  } else {
    auto v = flat.to_vector<double>();
    out += fmt::format("{:.6g}", fmt::join(v.begin(), v.begin() + n, ", "));
  }
  if (n < numel()) out += ", ...";
  return out + "])";
}

}  // namespace mttt
