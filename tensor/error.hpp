// Errors: every message starts with the operation's name in brackets, e.g.
// "[matmul] (3, 4) @ (5, 6): inner dimensions 4 and 5 differ".
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

// nvcc cannot compile fmt's compile-time format checks: sources it compiles (the CUDA backend)
// report errors with throw_error alone.
#if !defined(__CUDACC__)
#include <fmt/format.h>
#endif

namespace mttt {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_error(std::string_view op, std::string_view message);

#if !defined(__CUDACC__)
template <class... Args>
[[noreturn]] void fail(std::string_view op, fmt::format_string<Args...> format, Args&&... args) {
  throw_error(op, fmt::format(format, std::forward<Args>(args)...));
}

// The message's arguments are evaluated even when the condition holds: on hot paths, where
// they would cost (to_string of a shape runs fmt), write `if (!condition) fail(...)` instead.
template <class... Args>
void check(bool condition, std::string_view op, fmt::format_string<Args...> format, Args&&... args) {
  if (!condition) throw_error(op, fmt::format(format, std::forward<Args>(args)...));
}
#endif

}  // namespace mttt
