// Definitions of engine.hpp's templates. Included only where the engine is instantiated for
// a value type (tensor/autograd.cpp), so that other translation units stay light.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>

#include "autodiff/engine.hpp"
#include "autodiff/grad_mode.hpp"
#include "autodiff/profiler.hpp"

namespace mttt::autodiff {

template <class V> class Sweep {
 public:
  using Traits = ValueTraits<V>;
  using NodeP = Node<V>*;

  // Collects every node reachable from the roots, in decreasing creation order.
  explicit Sweep(const std::vector<V>& outputs) {
    std::vector<NodeP> stack;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      NodeP root = Traits::node(outputs[i]).get();
      if (!root)
        throw std::runtime_error("[grad] output " + std::to_string(i) + " (" + Traits::describe(outputs[i]) +
                                 ") does not require grad: nothing on the tape leads to it");
      visit(root, stack);
    }
    while (!stack.empty()) {
      NodeP node = stack.back();
      stack.pop_back();
      for (const auto& input : node->inputs_)
        if (input) visit(input.get(), stack);
    }
    std::sort(order_.begin(), order_.end(), [](NodeP a, NodeP b) { return a->sequence_ > b->sequence_; });
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i]->slot_ = static_cast<std::int64_t>(i);
    cotangents_.resize(order_.size());
    needed_.assign(order_.size(), false);
  }

  ~Sweep() {
    for (NodeP node : order_) node->slot_ = -1;
  }

  Sweep(const Sweep&) = delete;
  Sweep& operator=(const Sweep&) = delete;

  std::int64_t slot(const Node<V>* node) const { return node->slot_; }

  // A node is needed when it is a target or leads to one; inputs come before their users,
  // so one pass in creation order settles it.
  template <class IsTarget> void mark_needed(IsTarget&& is_target) {
    for (std::size_t k = order_.size(); k-- > 0;) {
      NodeP node = order_[k];
      bool needed = is_target(node);
      for (const auto& input : node->inputs_)
        needed = needed || (input && needed_[input->slot_]);
      needed_[k] = needed;
    }
  }

  void seed(const std::vector<V>& outputs, const std::vector<V>& grad_outputs) {
    if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
      throw std::runtime_error("[grad] " + std::to_string(outputs.size()) + " outputs but " +
                               std::to_string(grad_outputs.size()) + " grad_outputs");
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      V seed;
      if (grad_outputs.empty() || !Traits::defined(grad_outputs[i])) {
        if (!Traits::is_single_element(outputs[i]))
          throw std::runtime_error("[grad] output " + std::to_string(i) + " has shape " + Traits::describe(outputs[i]) +
                                   ": a gradient can be seeded implicitly only for a single-element output; pass grad_outputs");
        seed = Traits::ones_like(outputs[i]);
      } else {
        if (!Traits::same_shape(outputs[i], grad_outputs[i]))
          throw std::runtime_error("[grad] grad_outputs[" + std::to_string(i) + "] is " + Traits::describe(grad_outputs[i]) +
                                   " but output " + std::to_string(i) + " is " + Traits::describe(outputs[i]));
        seed = grad_outputs[i];
      }
      accumulate(Traits::node(outputs[i])->slot_, seed);
    }
  }

  // The reverse sweep. `on_reached(node, cotangent)` sees each needed node's total cotangent
  // before its rule runs; it returns false to stop there (leaves).
  template <class OnReached> void run(bool create_graph, bool retain_graph, OnReached&& on_reached) {
    GradModeScope mode(create_graph);
    for (std::size_t k = 0; k < order_.size(); ++k) {
      if (!needed_[k] || !Traits::defined(cotangents_[k])) continue;
      NodeP node = order_[k];
      V cotangent = std::move(cotangents_[k]);
      cotangents_[k] = V();
      if (!on_reached(node, cotangent)) continue;
      std::uint64_t mask = 0;
      const auto& inputs = node->inputs_;
      for (std::size_t j = 0; j < inputs.size(); ++j)
        if (inputs[j] && needed_[inputs[j]->slot_]) mask |= std::uint64_t{1} << j;
      if (!mask) continue;
      std::vector<V> input_cotangents;
      {
        ProfileScope profile(node->name(), Phase::backward);
        BackwardOpScope current(node->name());
        input_cotangents = node->vjp(cotangent, NeedsGrad(mask));
      }
      if (!retain_graph) node->release_saved();
      for (std::size_t j = 0; j < inputs.size(); ++j) {
        if (!((mask >> j) & 1u) || j >= input_cotangents.size() || !Traits::defined(input_cotangents[j])) continue;
        if (anomaly_enabled() && !Traits::all_finite(input_cotangents[j]))
          throw std::runtime_error(std::string("[anomaly] the backward rule of '") + node->name() +
                                   "' produced NaN or Inf in the cotangent of its input " + std::to_string(j) + " (" +
                                   Traits::describe(input_cotangents[j]) + ")");
        accumulate(inputs[j]->slot_, input_cotangents[j]);
      }
    }
  }

 private:
  void visit(NodeP node, std::vector<NodeP>& stack) {
    if (node->slot_ != -1) return;
    node->slot_ = -2;  // seen
    order_.push_back(node);
    stack.push_back(node);
  }

  void accumulate(std::int64_t slot, const V& value) {
    V& total = cotangents_[slot];
    total = Traits::defined(total) ? Traits::add(total, value) : value;
  }

  std::vector<NodeP> order_;
  std::vector<V> cotangents_;
  std::vector<bool> needed_;
};

template <class V>
std::vector<V> grad(const std::vector<V>& outputs, const std::vector<V>& inputs, const std::vector<V>& grad_outputs,
                    const GradOptions& options) {
  using Traits = ValueTraits<V>;
  const bool retain = options.retain_graph.value_or(options.create_graph);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!Traits::node(inputs[i]))
      throw std::runtime_error("[grad] input " + std::to_string(i) + " (" + Traits::describe(inputs[i]) +
                               ") does not require grad");
  Sweep<V> sweep(outputs);
  std::vector<V> results(inputs.size());
  // slot -> indices of the inputs that share that node
  auto is_target = [&](const Node<V>* node) {
    for (const auto& input : inputs)
      if (Traits::node(input).get() == node) return true;
    return false;
  };
  sweep.mark_needed(is_target);
  sweep.seed(outputs, grad_outputs);
  sweep.run(options.create_graph, retain, [&](Node<V>* node, const V& cotangent) {
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (Traits::node(inputs[i]).get() == node) results[i] = cotangent;
    return !node->is_leaf();
  });
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (Traits::defined(results[i])) continue;
    if (!options.allow_unused)
      throw std::runtime_error("[grad] input " + std::to_string(i) + " (" + Traits::describe(inputs[i]) +
                               ") is not reached from the outputs; pass allow_unused to get a zero gradient");
    results[i] = Traits::zeros_like(inputs[i]);
  }
  return results;
}

template <class V> void backward(const std::vector<V>& outputs, const std::vector<V>& grad_outputs, bool retain_graph) {
  using Traits = ValueTraits<V>;
  Sweep<V> sweep(outputs);
  sweep.mark_needed([](const Node<V>* node) { return node->is_leaf(); });
  sweep.seed(outputs, grad_outputs);
  sweep.run(false, retain_graph, [](Node<V>* node, const V& cotangent) {
    if (!node->is_leaf()) return true;
    auto* leaf = static_cast<LeafNode<V>*>(node);
    leaf->grad = Traits::defined(leaf->grad) ? Traits::add(leaf->grad, cotangent) : cotangent;
    return false;
  });
}

}  // namespace mttt::autodiff
