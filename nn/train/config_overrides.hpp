// JSON configs with `--set key.path=value` overrides, checked against the defaults: a key the
// defaults do not have is an error that lists the valid keys at that level.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mttt::nn {

// Fills every key of `defaults` that `config` lacks and rejects keys `defaults` does not have.
// `where` names the file for messages.
nlohmann::json merge_with_defaults(const nlohmann::json& config, const nlohmann::json& defaults, const std::string& where);

// Applies "a.b.c=value": value is parsed as JSON when it is valid JSON (duplicate keys refused),
// else taken as a string;
// the key must exist in `config` (already merged with the defaults).
void apply_override(nlohmann::json& config, const std::string& assignment);

// A JSON file with comments allowed and duplicate keys refused (nn/config_values.hpp).
nlohmann::json load_json_file(const std::string& path);

}  // namespace mttt::nn
