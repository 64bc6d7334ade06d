// What several test programs need: a command's exit status and what it printed, a skip (exit 77,
// which meson reports as SKIP) where Fashion-MNIST is not installed, and a fresh scratch folder.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include "nn/data/fashion_mnist.hpp"

namespace mttt::test {

// Runs `command` through the shell; its exit status (-1 if it did not exit) and its stdout and
// stderr together.
inline std::pair<int, std::string> run_command(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, "popen failed for: " + command};
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

inline void require_fashion_mnist() {
  if (!nn::data::fashion_mnist_available()) {
    std::fprintf(stderr, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): skipping\n");
    std::exit(77);
  }
}

// An empty folder <tmp>/mttt_<program>_<pid>/<name>.
inline std::string fresh_dir(const std::string& program, const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("mttt_" + program + "_" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(dir);
  return dir.string();
}

}  // namespace mttt::test
