// The autodiff engine instantiated for Tensor, and `record`, which every differentiable
// operation calls to put itself on the tape:
//
//   Tensor mul(const Tensor& a, const Tensor& b) {
//     Tensor out = ...forward...;
//     return record("mul", out, {a, b}, [a, b](const Tensor& g, NeedsGrad needs) {
//       return Grads{sum_to(g * b, a.shape()), sum_to(g * a, b.shape())};   // d(ab) = b da + a db
//     });
//   }
//
// `record` does nothing under no_grad or when no input requires grad. The rule's captures
// are its saved values; it is written with differentiable operations, so that with
// create_graph the sweep records it too and the gradient can be differentiated again.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "autodiff/engine.hpp"
#include "autodiff/grad_mode.hpp"
#include "autodiff/profiler.hpp"
#include "tensor/core.hpp"
#include "tensor/object_pool.hpp"

namespace mttt {

using autodiff::GradOptions;
using autodiff::NeedsGrad;
using Grads = std::vector<Tensor>;

using NoGrad = autodiff::NoGrad;
using EnableGrad = autodiff::EnableGrad;
using DetectAnomaly = autodiff::DetectAnomaly;
using autodiff::grad_enabled;

// Gradients of sum_i <grad_outputs_i, outputs_i> with respect to `inputs`; see autodiff/engine.hpp.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, const GradOptions& options = {});
// One scalar output, one input.
Tensor grad(const Tensor& output, const Tensor& input, const GradOptions& options = {});
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false);
// The same, calling `on_leaf_ready` for each leaf as soon as its `.grad` holds this sweep's total
// (compare with `parameter.node().get()`), while the sweep goes on.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
              const autodiff::LeafReady<Tensor>& on_leaf_ready);

// Times an operation for the profiler (forward phase); put one at the top of each op.
using OpScope = autodiff::ProfileScope;
#define MTTT_OP_SCOPE(name) ::mttt::autodiff::ProfileScope mttt_op_scope_((name), ::mttt::autodiff::Phase::forward)

// The input nodes of a recorded op (inline up to three).
using NodeList = Node::Inputs;

namespace detail {
// The nodes of the inputs (null for those that do not require grad); empty when nothing is to
// be recorded.
NodeList recording_inputs(std::span<const Tensor> inputs);
void attach(const Tensor& out, NodePtr node);
void check_anomaly(const char* op, const Tensor& out);
[[noreturn]] void first_order_only(const char* op);
}  // namespace detail

template <class Rule> Tensor record_nodes(const char* op, const Tensor& out, NodeList nodes, Rule&& rule) {
  if (autodiff::anomaly_enabled()) detail::check_anomaly(op, out);
  if (nodes.empty()) return out;
  auto node = pool::make_shared<autodiff::FunctionNode<Tensor, std::decay_t<Rule>>>(op, std::move(nodes),
                                                                                  std::forward<Rule>(rule));
  detail::attach(out, std::move(node));
  return out;
}

// As record, for a rule written in terms of the op's output: rule(g, needs, output).
template <class Rule>
Tensor record_with_output(const char* op, const Tensor& out, std::initializer_list<Tensor> inputs, Rule&& rule) {
  if (autodiff::anomaly_enabled()) detail::check_anomaly(op, out);
  auto nodes = detail::recording_inputs({inputs.begin(), inputs.size()});
  if (nodes.empty()) return out;
  auto node = pool::make_shared<autodiff::OutputFunctionNode<Tensor, std::decay_t<Rule>>>(
      op, std::move(nodes), out.detach(), std::forward<Rule>(rule));
  detail::attach(out, std::move(node));
  return out;
}

template <class Rule>
Tensor record(const char* op, const Tensor& out, std::initializer_list<Tensor> inputs, Rule&& rule) {
  NodeList nodes;
  if (grad_enabled()) {
    bool any = false;
    for (const auto& t : inputs) any = any || t.requires_grad();
    if (any)
      for (const auto& t : inputs) nodes.push_back(t.defined() ? t.node() : nullptr);
  }
  return record_nodes(op, out, std::move(nodes), std::forward<Rule>(rule));
}

// For a kernel whose backward rule is not written in differentiable ops (a hand-written
// fused backward): the rule runs in first-order sweeps only. A sweep with create_graph through
// it throws, naming the op, instead of silently returning a first-order answer (the classic
// MAML bug).
template <class Rule>
Tensor record_first_order(const char* op, const Tensor& out, std::initializer_list<Tensor> inputs, Rule&& rule) {
  return record(op, out, inputs, [op, rule = std::forward<Rule>(rule)](const Tensor& g, NeedsGrad needs) {
    if (grad_enabled()) detail::first_order_only(op);
    return rule(g, needs);
  });
}

template <class Rule> Tensor record(const char* op, const Tensor& out, const std::vector<Tensor>& inputs, Rule&& rule) {
  return record_nodes(op, out, detail::recording_inputs(inputs), std::forward<Rule>(rule));
}

}  // namespace mttt

template <> struct mttt::autodiff::ValueTraits<mttt::Tensor> {
  static const NodePtr& node(const Tensor& t);
  static bool defined(const Tensor& t) { return t.defined(); }
  static bool is_single_element(const Tensor& t) { return t.numel() == 1; }
  static Tensor ones_like(const Tensor& t);
  static Tensor zeros_like(const Tensor& t);
  static Tensor add(const Tensor& a, const Tensor& b);
  static bool all_finite(const Tensor& t);
  static bool same_shape(const Tensor& a, const Tensor& b) { return a.shape() == b.shape(); }
  static std::string describe(const Tensor& t);
  static Tensor attach(const Tensor& values, NodePtr node);
};
