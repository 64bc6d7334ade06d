// The reverse sweep over the tape.
//
//   grad(outputs, inputs, grad_outputs, options)   gradients of sum_i <grad_outputs_i, outputs_i>
//                                                  with respect to inputs; touches no `.grad`
//   backward(outputs, grad_outputs)                accumulates first-order gradients into the
//                                                  leaves' `.grad`
//
// A leaf's gradient is final once the last rule that feeds it has run, which is usually long
// before the sweep ends (parameters are the oldest nodes, swept last): the sweep hands each leaf
// its total right then, and backward's `on_leaf_ready` sees it, so that a data-parallel trainer
// can start reducing gradients while the sweep goes on.
//
// With create_graph the backward rules run with recording on, so the returned gradients are
// themselves on the tape and can be differentiated again, to any order.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autodiff/node.hpp"

namespace mttt::autodiff {

struct GradOptions {
  bool create_graph = false;
  // Keep saved values for another sweep; by default, as create_graph.
  std::optional<bool> retain_graph = std::nullopt;
  // An input that the outputs do not depend on gets a zero gradient instead of an error.
  bool allow_unused = false;
};

// What the engine needs to know about the values it differentiates; the value type
// specialises it (tensor/autograd.hpp does so for Tensor).
//   static const std::shared_ptr<Node<V>>& node(const V&);   // null when not recorded
//   static bool defined(const V&);
//   static V ones_like(const V&);
//   static V zeros_like(const V&);
//   static V add(const V&, const V&);
//   static bool all_finite(const V&);
//   static bool same_shape(const V&, const V&);
//   static std::string describe(const V&);                  // shape and dtype, for messages
//   static V attach(const V& values, std::shared_ptr<Node<V>> node);  // values re-attached to node
// (declared in node.hpp)

template <class V>
std::vector<V> grad(const std::vector<V>& outputs, const std::vector<V>& inputs,
                    const std::vector<V>& grad_outputs = {}, const GradOptions& options = {});

// Called once for each leaf a backward() reaches, as soon as its `.grad` holds this sweep's total.
template <class V> using LeafReady = std::function<void(const Node<V>* leaf)>;

template <class V>
void backward(const std::vector<V>& outputs, const std::vector<V>& grad_outputs = {}, bool retain_graph = false,
              const LeafReady<V>& on_leaf_ready = {});

}  // namespace mttt::autodiff
