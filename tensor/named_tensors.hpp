// Named tensors in a fixed order (the order a module lists its parameters), and the glob
// patterns that select them by name: `*` matches any run of characters, dots included, so
// `blocks.*.layer.inner.*` and `*.kernel` read as in the spec. In tensor/ because nn/ (modules,
// optimisers, checkpoints) and mttt/ (the TTT layers' parameter sets) both name tensors.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/core.hpp"

namespace mttt {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The tensor named `name`, or null.
const Tensor* find_tensor(const NamedTensors& tensors, std::string_view name);
// The tensor named `name`; otherwise throws "[op] parameter 'name' is missing".
const Tensor& tensor_named(const NamedTensors& tensors, std::string_view name, std::string_view op);

bool glob_match(std::string_view pattern, std::string_view name);
bool matches_any(const std::vector<std::string>& patterns, std::string_view name);

}  // namespace mttt
