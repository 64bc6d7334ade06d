// Functional application: running a module with an explicit set of tensors (name -> Tensor)
// in place of its own parameters, as the MTTT inner loop and meta-learning need. The given
// tensors take part in differentiation as they are, so gradients flow to them (and, through
// them, to whatever they were computed from).
//
//   Tensor y = functional_call(vit, {{"head.kernel", w}}, images);   // grad(loss(y), w) works
//
//   { Substitution scope(block, params); y = block.forward(x); }     // any method, not just forward
//
// While a Substitution is alive, the module reads the given tensors wherever it reads its own
// (they are swapped into its members); its own tensors come back when the scope ends, also on
// exceptions. Scopes nest. A module under substitution must not be used from another thread.
#pragma once

#include <utility>
#include <vector>

#include "nn/module.hpp"

namespace mttt::nn {

struct SubstitutionOptions {
  bool check_shapes = true;  // a given tensor must have the shape of the one it replaces
  bool require_all = false;  // every parameter must be given
};

class Substitution {
 public:
  // Names are relative to `module`; an unknown name is an error that lists valid ones.
  Substitution(Module& module, const NamedTensors& tensors, SubstitutionOptions options = {});
  ~Substitution();
  Substitution(const Substitution&) = delete;
  Substitution& operator=(const Substitution&) = delete;

 private:
  std::vector<std::pair<Tensor*, Tensor>> saved_;  // slot, its own tensor
};

// module.forward(args...) with `tensors` in place of the module's own.
template <class M, class... Args>
auto functional_call(M& module, const NamedTensors& tensors, Args&&... args) {
  Substitution scope(module, tensors);
  return module.forward(std::forward<Args>(args)...);
}

}  // namespace mttt::nn
