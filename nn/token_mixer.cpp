#include "nn/token_mixer.hpp"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "nn/config_values.hpp"
#include "nn/layers/attention.hpp"
#include "nn/layers/linear_attention.hpp"
#include "tensor/error.hpp"

namespace mttt::nn {

namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, TokenMixerFactory> factories;
};

Registry& registry() {
  static Registry* r = [] {
    auto* out = new Registry;
    out->factories["self_attention"] = [](const TokenMixerSpec& s, Generator& gen) -> std::unique_ptr<TokenMixer> {
      check_keys(s.options, "layer '" + s.kind + "'", {});
      return std::make_unique<SelfAttention>(s.width, s.heads, gen, s.dtype);
    };
    auto linear = [](FeatureMap map) {
      return [map](const TokenMixerSpec& s, Generator& gen) -> std::unique_ptr<TokenMixer> {
        check_keys(s.options, "layer '" + s.kind + "'", {});
        return std::make_unique<LinearAttention>(s.width, s.heads, map, gen, s.dtype);
      };
    };
    out->factories["linear_attention"] = linear(FeatureMap::identity);
    out->factories["linear_attention_elu"] = linear(FeatureMap::elu_plus_one);
    return out;
  }();
  return *r;
}

}  // namespace

void register_token_mixer(const std::string& kind, TokenMixerFactory factory) {
  check(!kind.empty() && factory != nullptr, "register_token_mixer", "needs a kind name and a factory");
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.factories[kind] = std::move(factory);
}

std::vector<std::string> token_mixer_kinds() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> out;
  for (const auto& [kind, f] : r.factories) out.push_back(kind);
  return out;
}

bool has_token_mixer(const std::string& kind) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  return r.factories.count(kind) > 0;
}

std::unique_ptr<TokenMixer> make_token_mixer(const TokenMixerSpec& spec, Generator& generator) {
  TokenMixerFactory factory;
  {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.factories.find(spec.kind);
    if (it != r.factories.end()) factory = it->second;
  }
  check(factory != nullptr, "token_mixer", "unknown layer kind '{}'; valid kinds: {}", spec.kind,
        fmt::join(token_mixer_kinds(), ", "));
  check(spec.width > 0 && spec.heads > 0 && spec.width % spec.heads == 0, "token_mixer",
        "{}: width {} must be a positive multiple of the {} heads", spec.kind, spec.width, spec.heads);
  check(spec.options.is_object(), "token_mixer", "{}: options must be a JSON object, got {}", spec.kind,
        spec.options.dump());
  return factory(spec, generator);
}

}  // namespace mttt::nn
