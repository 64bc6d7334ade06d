// Definitions of node.hpp's templates (included by it).
#pragma once

#include <stdexcept>
#include <string>

namespace mttt::autodiff {

namespace detail {
// Tearing down a long chain would recurse once per node and overflow the stack: a node that
// dies while another is being torn down hands its inputs to this list instead, and the
// outermost destructor drains it in a loop.
struct Teardown {
  bool draining = false;
  std::vector<std::shared_ptr<void>> pending;
};
// Not inlined, so that a destructor looks the thread_local up once (GCC repeats the lookup,
// a call in a shared library, at every access otherwise).
[[gnu::noinline]] inline Teardown& teardown_list() {
  thread_local Teardown teardown;
  return teardown;
}
}  // namespace detail

template <class V>
Node<V>::Node(const char* name, Inputs inputs)
    : name_(name), sequence_(next_sequence_.fetch_add(1, std::memory_order_relaxed)), inputs_(std::move(inputs)) {
  live_.fetch_add(1, std::memory_order_relaxed);
}

template <class V> Node<V>::~Node() {
  live_.fetch_sub(1, std::memory_order_relaxed);
  auto& teardown = detail::teardown_list();
  for (auto& input : inputs_)
    if (input && input.use_count() == 1) teardown.pending.push_back(std::move(input));
  if (teardown.draining) return;
  teardown.draining = true;
  while (!teardown.pending.empty()) {
    auto last = std::move(teardown.pending.back());
    teardown.pending.pop_back();
    last.reset();  // may push that node's inputs
  }
  teardown.draining = false;
}

template <class V, class Rule>
std::vector<V> FunctionNode<V, Rule>::vjp(const V& cotangent, NeedsGrad needs) {
  if (!rule_)
    throw std::runtime_error(std::string("[backward] the saved values of '") + this->name() +
                             "' were released by an earlier backward sweep; pass retain_graph to sweep the graph twice");
  return (*rule_)(cotangent, needs);
}

template <class V, class Rule>
std::vector<V> OutputFunctionNode<V, Rule>::vjp(const V& cotangent, NeedsGrad needs) {
  if (!rule_)
    throw std::runtime_error(std::string("[backward] the saved values of '") + this->name() +
                             "' were released by an earlier backward sweep; pass retain_graph to sweep the graph twice");
  return (*rule_)(cotangent, needs, ValueTraits<V>::attach(output_, this->shared_from_this()));
}

}  // namespace mttt::autodiff
