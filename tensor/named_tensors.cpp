#include "tensor/named_tensors.hpp"

#include "tensor/error.hpp"

namespace mttt {

const Tensor* find_tensor(const NamedTensors& tensors, std::string_view name) {
  for (const auto& [key, t] : tensors)
    if (key == name) return &t;
  return nullptr;
}

const Tensor& tensor_named(const NamedTensors& tensors, std::string_view name, std::string_view op) {
  const Tensor* t = find_tensor(tensors, name);
  if (t == nullptr) fail(op, "parameter '{}' is missing", name);
  return *t;
}

bool glob_match(std::string_view pattern, std::string_view name) {
  // Iterative wildcard matching with one backtrack point (the last `*`).
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool matches_any(const std::vector<std::string>& patterns, std::string_view name) {
  for (const auto& p : patterns)
    if (glob_match(p, name)) return true;
  return false;
}

}  // namespace mttt
