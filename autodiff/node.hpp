// A node of the tape: one recorded operation with its inputs' nodes, its saved values and
// its backward rule (a vector-Jacobian product). Nodes are numbered in creation order, which
// is a valid topological order: the reverse sweep (engine.hpp) visits them by decreasing
// number, with no recursion. A node lives as long as a tensor or a later node refers to it,
// so nothing that no one can reach stays alive.
//
// Generic over the value V it differentiates; tensor/ instantiates it with Tensor.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "autodiff/small_vector.hpp"

namespace mttt::autodiff {

// Which inputs of a node need a cotangent in the current sweep.
class NeedsGrad {
 public:
  explicit NeedsGrad(std::uint64_t mask) : mask_(mask) {}
  bool operator[](std::size_t input) const { return (mask_ >> input) & 1u; }
  bool any() const { return mask_ != 0; }

 private:
  std::uint64_t mask_;
};

// What the engine needs to know about the values it differentiates (see engine.hpp).
template <class V> struct ValueTraits;

template <class V> class Node {
 public:
  using Ptr = std::shared_ptr<Node>;
  // Most ops have one to three inputs: kept inline (see small_vector.hpp).
  using Inputs = SmallVector<Ptr, 3>;

  Node(const char* name, Inputs inputs);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Cotangents of the inputs (one per input; an undefined value means zero), given the
  // cotangent of the output. Written with differentiable operations, so that under
  // create_graph the rule itself is recorded and can be differentiated again.
  virtual std::vector<V> vjp(const V& cotangent, NeedsGrad needs) = 0;
  // Drops the saved values once a sweep has consumed them (unless the graph is retained).
  virtual void release_saved() {}
  virtual bool is_leaf() const { return false; }

  const char* name() const { return name_; }
  std::uint64_t sequence() const { return sequence_; }
  std::span<const Ptr> inputs() const { return {inputs_.data(), inputs_.size()}; }

  // Nodes alive in this process: the leak test of the engine watches it.
  static std::int64_t live_count() { return live_.load(std::memory_order_relaxed); }

 private:
  template <class> friend class Sweep;

  const char* name_;
  std::uint64_t sequence_;
  Inputs inputs_;
  std::int64_t slot_ = -1;  // index of this node in the sweep that is visiting it, else -1

  static inline std::atomic<std::uint64_t> next_sequence_{0};
  static inline std::atomic<std::int64_t> live_{0};
};

// A tensor created by the user with requires_grad: the end of every path of the sweep. It
// holds the gradient that backward() accumulates.
template <class V> class LeafNode final : public Node<V> {
 public:
  LeafNode() : Node<V>("leaf", {}) {}
  std::vector<V> vjp(const V&, NeedsGrad) override { return {}; }
  bool is_leaf() const override { return true; }

  V grad;
};

// A node whose backward rule is a callable `rule(cotangent, needs) -> std::vector<V>`; its
// captures are the saved values.
template <class V, class Rule> class FunctionNode final : public Node<V> {
 public:
  FunctionNode(const char* name, typename Node<V>::Inputs inputs, Rule rule)
      : Node<V>(name, std::move(inputs)), rule_(std::move(rule)) {}

  std::vector<V> vjp(const V& cotangent, NeedsGrad needs) override;
  void release_saved() override { rule_.reset(); }

 private:
  std::optional<Rule> rule_;
};

// A node whose rule also receives the op's own output, `rule(cotangent, needs, output)`,
// re-attached to this node. Rules written in terms of the output (softmax's) stay
// differentiable, while the node keeps only the output's values (holding the output itself
// would be a reference cycle). Only this kind of node derives from enable_shared_from_this:
// the others save its weak count, two atomic updates per node.
template <class V, class Rule>
class OutputFunctionNode final : public Node<V>, public std::enable_shared_from_this<OutputFunctionNode<V, Rule>> {
 public:
  OutputFunctionNode(const char* name, typename Node<V>::Inputs inputs, V output_values, Rule rule)
      : Node<V>(name, std::move(inputs)), output_(std::move(output_values)), rule_(std::move(rule)) {}

  std::vector<V> vjp(const V& cotangent, NeedsGrad needs) override;
  void release_saved() override {
    rule_.reset();
    output_ = V();
  }

 private:
  V output_;
  std::optional<Rule> rule_;
};

}  // namespace mttt::autodiff

#include "autodiff/node_impl.hpp"
