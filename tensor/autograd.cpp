#include "tensor/autograd.hpp"

#include "autodiff/engine_impl.hpp"
#include "tensor/creation.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/reduce.hpp"

namespace mttt {

namespace {
const NodePtr kNoNode;
}

const NodePtr& autodiff::ValueTraits<Tensor>::node(const Tensor& t) { return t.defined() ? t.node() : kNoNode; }
Tensor autodiff::ValueTraits<Tensor>::ones_like(const Tensor& t) { return mttt::ones_like(t); }
Tensor autodiff::ValueTraits<Tensor>::zeros_like(const Tensor& t) { return mttt::zeros_like(t); }
Tensor autodiff::ValueTraits<Tensor>::add(const Tensor& a, const Tensor& b) { return mttt::add(a, b); }
bool autodiff::ValueTraits<Tensor>::all_finite(const Tensor& t) { return mttt::all_finite(t); }
std::string autodiff::ValueTraits<Tensor>::describe(const Tensor& t) {
  return t.defined() ? fmt::format("{} {}", mttt::to_string(t.shape()), mttt::to_string(t.dtype())) : "undefined";
}

Tensor autodiff::ValueTraits<Tensor>::attach(const Tensor& values, NodePtr node) {
  Tensor t = values.detach();
  t.impl().node = std::move(node);
  return t;
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, const GradOptions& options) {
  return autodiff::grad<Tensor>(outputs, inputs, grad_outputs, options);
}

Tensor grad(const Tensor& output, const Tensor& input, const GradOptions& options) {
  return autodiff::grad<Tensor>({output}, {input}, {}, options)[0];
}

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph) {
  autodiff::backward<Tensor>(outputs, grad_outputs, retain_graph);
}

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
              const autodiff::LeafReady<Tensor>& on_leaf_ready) {
  autodiff::backward<Tensor>(outputs, grad_outputs, retain_graph, on_leaf_ready);
}

namespace detail {

NodeList recording_inputs(std::span<const Tensor> inputs) {
  NodeList nodes;
  if (!grad_enabled()) return nodes;
  bool any = false;
  for (const auto& t : inputs) any = any || t.requires_grad();
  if (!any) return nodes;
  nodes.reserve(inputs.size());
  for (const auto& t : inputs) nodes.push_back(t.defined() ? t.node() : nullptr);
  return nodes;
}

void attach(const Tensor& out, NodePtr node) {
  if (out.impl().node)
    throw_error(node->name(), "internal error: the output already has a node (ops must return fresh tensors)");
  out.impl().node = std::move(node);
}

void check_anomaly(const char* op, const Tensor& out) {
  // The check runs ops of its own, which must not check themselves.
  thread_local bool checking = false;
  if (checking || !out.defined() || !is_floating(out.dtype())) return;
  struct Guard {
    Guard() { checking = true; }
    ~Guard() { checking = false; }
  } guard;
  if (all_finite(out)) return;
  if (const char* rule = autodiff::current_backward_op())
    fail("anomaly", "the backward rule of '{}' produced NaN or Inf (in its op '{}', output {} {})", rule, op,
         mttt::to_string(out.shape()), mttt::to_string(out.dtype()));
  fail("anomaly", "'{}' produced NaN or Inf in its output {} {}", op, mttt::to_string(out.shape()),
       mttt::to_string(out.dtype()));
}

void first_order_only(const char* op) {
  fail(op, "the backward rule of '{}' is first-order only and cannot be differentiated again; "
           "this sweep asked for create_graph through it", op);
}

}  // namespace detail
}  // namespace mttt
