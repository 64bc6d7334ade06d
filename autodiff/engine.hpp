// The reverse sweep over the tape.
//
//   grad(outputs, inputs, grad_outputs, options)   gradients of sum_i <grad_outputs_i, outputs_i>
//                                                  with respect to inputs; touches no `.grad`
//   backward(outputs, grad_outputs)                accumulates first-order gradients into the
//                                                  leaves' `.grad`
//
// With create_graph the backward rules run with recording on, so the returned gradients are
// themselves on the tape and can be differentiated again, to any order.
#pragma once

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

template <class V>
void backward(const std::vector<V>& outputs, const std::vector<V>& grad_outputs = {}, bool retain_graph = false);

}  // namespace mttt::autodiff
