// libFuzzer target: a training config's JSON text with `--set key=value` overrides, through the
// parser that `mttt train` uses (nn/train/train_config.hpp), and a TTT layer's options
// (mttt/ttt_options.hpp). Input: the JSON text, then after a NUL byte the overrides, one a line.
// Anything may be refused with an mttt::Error; any other exception escaping is a crash. A config
// that was accepted must be accepted again as written back (checkpoints keep it and resume reads
// it), giving the same config.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mttt/ttt_options.hpp"
#include "nn/config_values.hpp"
#include "nn/train/train_config.hpp"
#include "tensor/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string text(input.substr(0, nul));
  std::vector<std::string> overrides;
  if (nul != std::string_view::npos) {
    std::string_view rest = input.substr(nul + 1);
    while (!rest.empty()) {
      const std::size_t end = rest.find('\n');
      overrides.emplace_back(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
  }
  mttt::nn::TrainConfig config;
  try {
    config = mttt::nn::parse_train_config(mttt::nn::parse_json(text, "fuzz.json"), overrides, "fuzz.json");
  } catch (const mttt::Error&) {
    return 0;
  }
  // Written back and read again: the same config (the record a checkpoint keeps).
  const auto again = mttt::nn::parse_train_config(config.json, {}, "written back");
  if (again.json != config.json) __builtin_trap();
  const auto& model = config.model;
  if (model.layer == "mttt_linear" || model.layer == "mttt_mlp") {
    try {
      mttt::ttt::TTTOptions::from_config(model.layer, model.layer_options, model.heads, model.width, model.tokens());
    } catch (const mttt::Error&) {
    }
  }
  return 0;
}
