#include "nn/train/config_overrides.hpp"

#include <fstream>

#include <fmt/format.h>

#include "nn/config_values.hpp"
#include "tensor/error.hpp"

namespace mttt::nn {

namespace {

std::string valid_keys(const nlohmann::json& object) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : object.items()) keys.push_back(k);
  return fmt::format("{}", fmt::join(keys, ", "));
}

void merge(nlohmann::json& out, const nlohmann::json& config, const nlohmann::json& defaults, const std::string& path,
           const std::string& where) {
  for (const auto& [key, value] : config.items()) {
    const std::string full = path.empty() ? key : path + "." + key;
    if (!defaults.contains(key))
      fail("config", "{}: unknown key '{}'; valid keys{}: {}", where, full, path.empty() ? "" : " under '" + path + "'",
           valid_keys(defaults));
    const auto& fallback = defaults.at(key);
    if (fallback.is_object()) {
      check(value.is_object(), "config", "{}: '{}' must be an object with keys {}", where, full, valid_keys(fallback));
      merge(out[key], value, fallback, full, where);
    } else {
      out[key] = value;
    }
  }
}

}  // namespace

nlohmann::json merge_with_defaults(const nlohmann::json& config, const nlohmann::json& defaults, const std::string& where) {
  check(config.is_object(), "config", "{}: the top level must be a JSON object", where);
  nlohmann::json out = defaults;
  merge(out, config, defaults, "", where);
  return out;
}

void apply_override(nlohmann::json& config, const std::string& assignment) {
  auto eq = assignment.find('=');
  check(eq != std::string::npos && eq > 0, "config", "override '{}' must read key=value", assignment);
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  nlohmann::json* node = &config;
  std::string path;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = key.find('.', start);
    std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    check(node->is_object() && node->contains(part), "config", "override '{}': unknown key '{}'; valid keys{}: {}",
          assignment, path.empty() ? part : path + "." + part, path.empty() ? "" : " under '" + path + "'",
          node->is_object() ? valid_keys(*node) : std::string("(none: '" + path + "' is a value)"));
    node = &(*node)[part];
    path = path.empty() ? part : path + "." + part;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // JSON when it is JSON (duplicate keys refused), else the text as a string: valid UTF-8, as
  // JSON strings are (the config is written into checkpoints and messages as JSON).
  const bool is_json = nlohmann::json::accept(text, true);
  if (!is_json) {
    try {
      (void)nlohmann::json(text).dump();
    } catch (const nlohmann::json::type_error&) {
      fail("config", "override for '{}': the value is not valid UTF-8", path);
    }
  }
  const nlohmann::json value = is_json ? parse_json(text, "override '" + assignment + "'") : nlohmann::json(text);
  check(!node->is_object() || value.is_object(), "config", "override '{}': '{}' is a section, not a value", assignment,
        path);
  *node = value;
}

nlohmann::json load_json_file(const std::string& path) {
  std::ifstream in(path);
  check(in.good(), "config", "cannot open {}", path);
  return parse_json(in, path);
}

}  // namespace mttt::nn
