// Module: a tree of named parameters, buffers and child modules, named as the spec's table
// ("blocks.3.mlp.fc1.kernel") so that checkpoints, weight-decay masks and frozen sets are chosen
// by name and glob pattern (`*` matches any run of characters, dots included).
//
// A layer keeps its tensors as ordinary members and registers each one under its spec name:
//
//   class Linear : public Module {
//     Linear(...) { register_parameter("kernel", kernel_, init(...)); ... }
//     Tensor forward(const Tensor& x) const { return dense(x, kernel_, bias_); }
//     Tensor kernel_, bias_;
//   };
//
// The module remembers where each member lives, so that a functional application
// (nn/functional.hpp) can put other tensors there while a forward runs. Modules are therefore
// neither copied nor moved; children are owned by their parent (register_module).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/named_tensors.hpp"
#include "tensor/core.hpp"

namespace mttt::nn {

// Element counts of parameters (buffers are not parameters).
struct ParameterCount {
  std::int64_t total = 0, trainable = 0, frozen = 0;
  ParameterCount& operator+=(const ParameterCount& other);
};

struct LoadOptions {
  bool strict = true;  // every parameter must be given, and no unknown name
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // A short description for tables, e.g. "Linear(192 -> 768)".
  virtual std::string describe() const { return "Module"; }

  // --- names --------------------------------------------------------------------------
  // In registration order, depth first, with dotted names relative to this module.
  NamedTensors named_parameters() const;  // frozen ones included
  NamedTensors named_trainable_parameters() const;
  NamedTensors named_buffers() const;  // fixed tensors, e.g. the sin-cos position embedding
  // This module's own parameters and buffers, without its children's.
  NamedTensors direct_parameters() const;
  NamedTensors direct_buffers() const;
  // This module's own members in registration order: a parameter, a buffer or a child.
  struct MemberView {
    std::string name;
    Tensor tensor;  // parameter or buffer
    bool is_buffer = false;
    bool frozen = false;
    const Module* module = nullptr;  // child
  };
  std::vector<MemberView> members() const;
  std::vector<std::pair<std::string, const Module*>> named_children() const;
  // This module ("") and every descendant down to `max_depth` levels (-1: all).
  std::vector<std::pair<std::string, const Module*>> named_modules(int max_depth = -1) const;
  // The parameter or buffer with this dotted name; throws listing similar names when absent.
  Tensor tensor(std::string_view name) const;
  bool contains(std::string_view name) const;
  // The descendant with this dotted name ("blocks.3.layer").
  const Module& submodule(std::string_view name) const;
  Module& submodule(std::string_view name);

  // --- frozen parameters --------------------------------------------------------------
  // Frozen parameters take no gradient (requires_grad off) and are counted apart. Returns how
  // many parameters the pattern matched (a pattern may legitimately match none).
  std::size_t freeze(std::string_view pattern);
  std::size_t unfreeze(std::string_view pattern);
  bool is_frozen(std::string_view name) const;
  // Exact names, usable as the optimiser's frozen patterns.
  std::vector<std::string> frozen_names() const;

  ParameterCount count_parameters() const;

  // Copies values into the parameters and buffers of the same names (shapes must agree; dtypes
  // are converted; values on another device are moved). For checkpoints; runs without recording.
  void load_tensors(const NamedTensors& values, LoadOptions options = {});

  // --- devices ------------------------------------------------------------------------
  // Moves every parameter and buffer to `device` in place (trainable parameters stay leaves
  // that require grad). Optimisers hold the tensors they update: build them after the move.
  void to_(Device device);
  // The device of the parameters and buffers (the CPU for a module without any); throws when
  // they are spread over several.
  Device device() const;

 protected:
  // `slot` must be a member of this module: forward reads it, functional application swaps it.
  void register_parameter(const std::string& name, Tensor& slot, Tensor value);
  void register_buffer(const std::string& name, Tensor& slot, Tensor value);
  template <class M>
  M& register_module(const std::string& name, std::unique_ptr<M> module) {
    M& ref = *module;
    add_child(name, std::move(module));
    return ref;
  }

 private:
  enum class Kind { parameter, buffer, module };
  struct Member {
    std::string name;
    Kind kind;
    Tensor* slot = nullptr;         // parameter and buffer
    bool frozen = false;            // parameter
    std::unique_ptr<Module> child;  // module
  };
  std::vector<Member> members_;

  void add_child(const std::string& name, std::unique_ptr<Module> module);
  void add_member(Member member);
  // Every parameter and buffer below this module with its full name.
  struct Slot {
    std::string name;
    Member* member;
  };
  void collect_slots(const std::string& prefix, std::vector<Slot>& out) const;
  std::vector<Slot> slots() const;
  std::size_t set_frozen(std::string_view pattern, bool frozen);

  friend class Substitution;
};

// Children named 0, 1, 2, ... in order ("blocks.3").
class ModuleList : public Module {
 public:
  template <class M>
  M& append(std::unique_ptr<M> module) {
    return register_module(std::to_string(size_++), std::move(module));
  }
  std::size_t size() const { return size_; }
  std::string describe() const override { return "ModuleList"; }

 private:
  std::size_t size_ = 0;
};

// Renders a parameter count with thousands separators: 5569576 -> "5,569,576".
std::string with_thousands(std::int64_t value);

}  // namespace mttt::nn
