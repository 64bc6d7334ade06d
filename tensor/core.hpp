// Tensor: a handle to shared storage seen through a shape, strides and an offset, with an
// element type, a device and, when it takes part in differentiation, a node of the tape.
//
// Copying a Tensor copies the handle (like a shared_ptr): views share storage, and
// operations never modify their inputs. The operations themselves are free functions
// (tensor/ops/*.hpp); include tensor/tensor.hpp for all of them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/node.hpp"
#include "tensor/device.hpp"
#include "tensor/dtype.hpp"
#include "tensor/shape.hpp"
#include "tensor/storage.hpp"

namespace mttt {

class Tensor;
using Node = autodiff::Node<Tensor>;
using NodePtr = std::shared_ptr<Node>;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  std::int64_t offset = 0;  // in elements
  DType dtype = DType::float32;
  NodePtr node;  // the op that produced this value, or a leaf node; null when not differentiated
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // An uninitialised contiguous tensor.
  static Tensor empty(const Shape& shape, DType dtype = DType::float32, Device device = kCPU);
  // A view of existing storage (no autodiff history).
  static Tensor view_of(std::shared_ptr<Storage> storage, const Shape& shape, const Strides& strides,
                        std::int64_t offset, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  // Size of one axis; negative axes count from the end.
  std::int64_t size(std::int64_t axis) const;
  int rank() const { return impl().shape.size(); }
  std::int64_t numel() const { return mttt::numel(impl().shape); }
  const Strides& strides() const { return impl().strides; }
  std::int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  bool is_contiguous() const;
  // Whether two tensors are the same handle (not merely equal values).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // Pointer to the first element (index (0, ..., 0)); checks the element type.
  template <class T> T* data() const;
  void* data_ptr() const;

  // --- autodiff -------------------------------------------------------------------------
  bool requires_grad() const { return impl_ && impl_->node != nullptr; }
  // Makes this tensor a leaf that gradients flow to; only for tensors that no op produced.
  Tensor& requires_grad_(bool value = true);
  bool is_leaf() const;
  // The gradient that backward() accumulated (leaves only); undefined before.
  Tensor grad() const;
  void set_grad(const Tensor& grad);
  void zero_grad() { set_grad(Tensor()); }
  // The same values, cut from the tape.
  Tensor detach() const;
  const NodePtr& node() const { return impl().node; }
  // Accumulates first-order gradients into the leaves' grad(); for a single-element tensor
  // the seed may be omitted. For higher order use mttt::grad(..., {.create_graph = true}).
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;

  // --- values ---------------------------------------------------------------------------
  // The single element of a one-element tensor, converted to T.
  template <class T = double> T item() const;
  // All elements in row-major order, converted to T (copies from any device).
  template <class T> std::vector<T> to_vector() const;
  std::string to_string(int max_elements = 64) const;

  // Inline: every accessor above goes through it.
  TensorImpl& impl() const {
    if (!impl_) [[unlikely]] undefined_error();
    return *impl_;
  }

 private:
  [[noreturn]] static void undefined_error();

  std::shared_ptr<TensorImpl> impl_;
};

extern template float* Tensor::data<float>() const;
extern template double* Tensor::data<double>() const;
extern template std::int64_t* Tensor::data<std::int64_t>() const;
extern template float Tensor::item<float>() const;
extern template double Tensor::item<double>() const;
extern template std::int64_t Tensor::item<std::int64_t>() const;
extern template std::vector<float> Tensor::to_vector<float>() const;
extern template std::vector<double> Tensor::to_vector<double>() const;
extern template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

}  // namespace mttt
