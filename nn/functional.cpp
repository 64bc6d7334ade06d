#include "nn/functional.hpp"

#include <fmt/format.h>

#include "tensor/error.hpp"

namespace mttt::nn {

Substitution::Substitution(Module& module, const NamedTensors& tensors, SubstitutionOptions options) {
  auto slots = module.slots();
  std::vector<bool> given(slots.size(), false);
  try {
    for (const auto& [name, value] : tensors) {
      std::size_t i = 0;
      while (i < slots.size() && slots[i].name != name) ++i;
      if (i == slots.size()) {
        std::string valid;
        for (std::size_t j = 0; j < slots.size() && j < 8; ++j) valid += (j ? ", " : "") + slots[j].name;
        fail("functional_call", "{} has no parameter or buffer '{}'; valid names include {}{}", module.describe(), name,
             valid, slots.size() > 8 ? fmt::format(", ... ({} in all)", slots.size()) : std::string());
      }
      check(!given[i], "functional_call", "'{}' is given twice", name);
      Tensor& slot = *slots[i].member->slot;
      check(value.defined(), "functional_call", "the tensor given for '{}' is undefined", name);
      check(!options.check_shapes || value.shape() == slot.shape(), "functional_call",
            "'{}' is given with shape {}, expected {}", name, to_string(value.shape()), to_string(slot.shape()));
      check(value.dtype() == slot.dtype(), "functional_call", "'{}' is given as {}, expected {}", name,
            to_string(value.dtype()), to_string(slot.dtype()));
      given[i] = true;
      saved_.emplace_back(&slot, slot);
      slot = value;
    }
    if (options.require_all)
      for (std::size_t i = 0; i < slots.size(); ++i)
        check(given[i] || slots[i].member->kind != Module::Kind::parameter, "functional_call",
              "parameter '{}' is not given (require_all)", slots[i].name);
  } catch (...) {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) *it->first = it->second;
    throw;
  }
}

Substitution::~Substitution() {
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) *it->first = it->second;
}

}  // namespace mttt::nn
