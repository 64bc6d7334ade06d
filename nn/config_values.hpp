// Typed reads of config values, one rule for every key of every section: an integer key takes
// an integer (or a float with an integral value, e.g. 1e3) inside its range, a number a finite
// number inside its range, and anything else is refused with the key's name, the value as
// written and what was expected. JSON text is read with comments allowed and duplicate keys
// refused (nlohmann would keep the last one silently).
//
//   std::int64_t b = read_integer(j, "run.batch_size", 1, 65536);
//   // [config] run.batch_size must be an integer in [1, 65536], got 1.5
#pragma once

#include <cstdint>
#include <istream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mttt::nn {

inline constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
inline constexpr double kInfinity = std::numeric_limits<double>::infinity();

std::int64_t read_integer(const nlohmann::json& value, const std::string& key, std::int64_t min, std::int64_t max);
std::uint64_t read_unsigned(const nlohmann::json& value, const std::string& key);
// A finite number's range: [min, max], either end open on request.
struct NumberRange {
  double min = -kInfinity, max = kInfinity;
  bool min_open = false, max_open = false;
  bool contains(double v) const;
  std::string to_string() const;  // "(0, inf)", "[0, 1)"
};
double read_number(const nlohmann::json& value, const std::string& key, const NumberRange& range);
bool read_bool(const nlohmann::json& value, const std::string& key);
std::string read_string(const nlohmann::json& value, const std::string& key);
// One of `valid`; the message lists them.
std::string read_choice(const nlohmann::json& value, const std::string& key, const std::vector<std::string>& valid);

// Throws unless every key of `object` is in `valid`, naming the valid ones. `where` names the
// object ("model.layer").
void check_keys(const nlohmann::json& object, const std::string& where, const std::vector<std::string>& valid);

// JSON text with comments, duplicate keys refused naming the key's path; `where` names the
// source (a file, "--set run.seed=...").
nlohmann::json parse_json(std::istream& in, const std::string& where);
nlohmann::json parse_json(const std::string& text, const std::string& where);

}  // namespace mttt::nn
