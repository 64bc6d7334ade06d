// Definitions of engine.hpp's templates. Included only where the engine is instantiated for
// a value type (tensor/autograd.cpp), so that other translation units stay light.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/engine.hpp"
#include "autodiff/grad_mode.hpp"
#include "autodiff/profiler.hpp"

namespace mttt::autodiff {

// One reverse sweep. Nodes are scattered over the heap and a long tape outgrows the caches,
// so the sweep reads each node as few times as it can: the collection pass copies what the
// later passes need (creation number, leaf or not, input edges) into contiguous arrays, and
// the reverse pass touches a node only to run its rule.
template <class V> class Sweep {
 public:
  using Traits = ValueTraits<V>;
  using NodeP = Node<V>*;

  // Collects every node reachable from the roots, in decreasing creation order.
  explicit Sweep(const std::vector<V>& outputs) {
    // Every root is checked before any node is marked: a throw must leave no mark behind.
    for (std::size_t i = 0; i < outputs.size(); ++i)
      if (!Traits::node(outputs[i]))
        throw std::runtime_error("[grad] output " + std::to_string(i) + " (" + Traits::describe(outputs[i]) +
                                 ") does not require grad: nothing on the tape leads to it");
    for (const auto& output : outputs) visit(Traits::node(output).get());
    // Breadth first over the visited list itself. While the sweep lives, a node's slot_ is its
    // index in that list (and marks it as visited).
    std::vector<std::int64_t> visit_edges, visit_edge_begin{0};
    for (std::size_t v = 0; v < visited_.size(); ++v) {
      for (const auto& input : visited_[v].node->inputs_) {
        if (input) visit(input.get());
        visit_edges.push_back(input ? input->slot_ : -1);
      }
      visit_edge_begin.push_back(static_cast<std::int64_t>(visit_edges.size()));
    }
    const std::size_t n = visited_.size();
    std::vector<std::pair<std::uint64_t, std::int64_t>> by_sequence(n);
    for (std::size_t v = 0; v < n; ++v) by_sequence[v] = {visited_[v].sequence, static_cast<std::int64_t>(v)};
    std::sort(by_sequence.begin(), by_sequence.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    position_.resize(n);
    for (std::size_t k = 0; k < n; ++k) position_[by_sequence[k].second] = static_cast<std::int64_t>(k);
    order_.resize(n);
    leaf_.resize(n);
    edge_begin_.assign(1, 0);
    edges_.reserve(visit_edges.size());
    for (std::size_t k = 0; k < n; ++k) {
      const std::int64_t v = by_sequence[k].second;
      order_[k] = visited_[v].node;
      leaf_[k] = visited_[v].leaf;
      for (std::int64_t e = visit_edge_begin[v]; e < visit_edge_begin[v + 1]; ++e)
        edges_.push_back(visit_edges[e] < 0 ? -1 : position_[visit_edges[e]]);
      edge_begin_.push_back(static_cast<std::int64_t>(edges_.size()));
    }
    visited_.clear();
    cotangents_.resize(n);
    needed_.assign(n, false);
  }

  ~Sweep() {
    for (std::size_t k = reset_from_; k < order_.size(); ++k) order_[k]->slot_ = -1;
  }

  Sweep(const Sweep&) = delete;
  Sweep& operator=(const Sweep&) = delete;

  // A node is needed when it is a target or leads to one; inputs come before their users,
  // so one pass in creation order settles it. is_target(node, is_leaf) may not read the node.
  template <class IsTarget> void mark_needed(IsTarget&& is_target) {
    for (std::size_t k = order_.size(); k-- > 0;) {
      bool needed = is_target(order_[k], static_cast<bool>(leaf_[k]));
      for (std::int64_t e = edge_begin_[k]; !needed && e < edge_begin_[k + 1]; ++e)
        needed = edges_[e] >= 0 && needed_[edges_[e]];
      needed_[k] = needed;
    }
    // The last needed node (in sweep order) that feeds each needed leaf: after its rule the
    // leaf's total is known. Consumers come before their inputs in sweep order.
    const std::size_t n = order_.size();
    std::vector<std::int64_t> last_feeder(n, -1);
    for (std::size_t k = 0; k < n; ++k)
      if (needed_[k])
        for (std::int64_t e = edge_begin_[k]; e < edge_begin_[k + 1]; ++e)
          if (edges_[e] >= 0 && leaf_[edges_[e]] && needed_[edges_[e]]) last_feeder[edges_[e]] = static_cast<std::int64_t>(k);
    ready_begin_.assign(n + 1, 0);
    for (std::size_t leaf = 0; leaf < n; ++leaf)
      if (last_feeder[leaf] >= 0) ++ready_begin_[last_feeder[leaf] + 1];
    for (std::size_t k = 0; k < n; ++k) ready_begin_[k + 1] += ready_begin_[k];
    ready_.assign(ready_begin_[n], 0);
    std::vector<std::int64_t> fill(ready_begin_.begin(), ready_begin_.end() - 1);
    for (std::size_t leaf = 0; leaf < n; ++leaf)
      if (last_feeder[leaf] >= 0) ready_[fill[last_feeder[leaf]]++] = static_cast<std::int64_t>(leaf);
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
      accumulate(position_[Traits::node(outputs[i])->slot_], seed);
    }
  }

  // The reverse sweep. `on_reached(node, cotangent)` sees each needed node's total cotangent
  // before its rule runs; it returns false to stop there (leaves). A leaf is reached right after
  // the last rule that feeds it, not at its own (late) place in the sweep.
  template <class OnReached> void run(bool create_graph, bool retain_graph, OnReached&& on_reached) {
    GradModeScope mode(create_graph);
    for (std::size_t k = 0; k < order_.size(); ++k) {
      step(k, retain_graph, on_reached);
      for (std::int64_t r = ready_begin_[k]; r < ready_begin_[k + 1]; ++r) {
        const auto leaf = static_cast<std::size_t>(ready_[r]);
        if (!Traits::defined(cotangents_[leaf])) continue;
        V cotangent = std::move(cotangents_[leaf]);
        cotangents_[leaf] = V();  // its own place in the sweep finds nothing left to do
        on_reached(order_[leaf], cotangent);
      }
    }
  }

 private:
  // Node k of the sweep: its total cotangent to on_reached, then its rule, whose results
  // accumulate into its inputs.
  template <class OnReached> void step(std::size_t k, bool retain_graph, OnReached& on_reached) {
    NodeP node = order_[k];
    // Edges are resolved already: the node's mark can go now, while the node is in cache.
    node->slot_ = -1;
    reset_from_ = k + 1;
    if (!needed_[k] || !Traits::defined(cotangents_[k])) return;
    V cotangent = std::move(cotangents_[k]);
    cotangents_[k] = V();
    if (!on_reached(node, cotangent)) return;
    const std::int64_t first = edge_begin_[k], count = edge_begin_[k + 1] - first;
    std::uint64_t mask = 0;
    for (std::int64_t j = 0; j < count; ++j)
      if (edges_[first + j] >= 0 && needed_[edges_[first + j]]) mask |= std::uint64_t{1} << j;
    if (!mask) return;
    std::vector<V> input_cotangents;
    {
      ProfileScope profile(node->name(), Phase::backward);
      BackwardOpScope current(node->name());
      input_cotangents = node->vjp(cotangent, NeedsGrad(mask));
    }
    if (!retain_graph) node->release_saved();
    for (std::int64_t j = 0; j < count; ++j) {
      if (!((mask >> j) & 1u) || j >= static_cast<std::int64_t>(input_cotangents.size()) ||
          !Traits::defined(input_cotangents[j]))
        continue;
      if (anomaly_enabled() && !Traits::all_finite(input_cotangents[j]))
        throw std::runtime_error(std::string("[anomaly] the backward rule of '") + node->name() +
                                 "' produced NaN or Inf in the cotangent of its input " + std::to_string(j) + " (" +
                                 Traits::describe(input_cotangents[j]) + ")");
      accumulate(edges_[first + j], input_cotangents[j]);
    }
  }

  struct Visited {
    NodeP node;
    std::uint64_t sequence;
    bool leaf;
  };

  void visit(NodeP node) {
    if (node->slot_ != -1) return;
    node->slot_ = static_cast<std::int64_t>(visited_.size());
    visited_.push_back({node, node->sequence_, node->is_leaf()});
  }

  void accumulate(std::int64_t k, const V& value) {
    V& total = cotangents_[k];
    if (!Traits::defined(total)) {
      total = value;
      return;
    }
    ProfileScope profile("accumulate", Phase::backward);  // its own row: not an op of the model
    total = Traits::add(total, value);
  }

  std::vector<Visited> visited_;         // collection order (emptied once sorted)
  std::vector<std::int64_t> position_;   // collection index -> position in order_
  std::vector<NodeP> order_;             // decreasing creation order
  std::vector<char> leaf_;
  std::vector<std::int64_t> edge_begin_, edges_;  // inputs of order_[k]: positions, -1 for none
  std::vector<V> cotangents_;
  std::vector<bool> needed_;
  std::vector<std::int64_t> ready_begin_, ready_;  // leaves whose total is known after order_[k]
  std::size_t reset_from_ = 0;           // order_[k]->slot_ is still set for k >= reset_from_
};

// A sweep marks the nodes it will visit (slot_) until it reaches them, so a second sweep started
// from inside a backward rule would read the first one's marks as its own.
inline void refuse_nested_sweep(const char* entry) {
  if (const char* op = current_backward_op())
    throw std::runtime_error(std::string("[") + entry + "] called inside the backward rule of '" + op +
                             "': a rule cannot start a sweep of its own; write its derivative in differentiable ops");
}

template <class V>
std::vector<V> grad(const std::vector<V>& outputs, const std::vector<V>& inputs, const std::vector<V>& grad_outputs,
                    const GradOptions& options) {
  using Traits = ValueTraits<V>;
  refuse_nested_sweep("grad");
  const bool retain = options.retain_graph.value_or(options.create_graph);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!Traits::node(inputs[i]))
      throw std::runtime_error("[grad] input " + std::to_string(i) + " (" + Traits::describe(inputs[i]) +
                               ") does not require grad");
  Sweep<V> sweep(outputs);
  std::vector<V> results(inputs.size());
  // The inputs' nodes are the targets; several inputs may share one node, and each gets its cotangent.
  auto is_target = [&](const Node<V>* node, bool) {
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

template <class V>
void backward(const std::vector<V>& outputs, const std::vector<V>& grad_outputs, bool retain_graph,
              const LeafReady<V>& on_leaf_ready) {
  using Traits = ValueTraits<V>;
  refuse_nested_sweep("backward");
  Sweep<V> sweep(outputs);
  sweep.mark_needed([](const Node<V>*, bool leaf) { return leaf; });
  sweep.seed(outputs, grad_outputs);
  sweep.run(false, retain_graph, [&on_leaf_ready](Node<V>* node, const V& cotangent) {
    if (!node->is_leaf()) return true;
    auto* leaf = static_cast<LeafNode<V>*>(node);
    leaf->grad = Traits::defined(leaf->grad) ? Traits::add(leaf->grad, cotangent) : cotangent;
    if (on_leaf_ready) on_leaf_ready(leaf);
    return false;
  });
}

}  // namespace mttt::autodiff
