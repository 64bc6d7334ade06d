#include "nn/config_values.hpp"

#include <cmath>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "tensor/error.hpp"

namespace mttt::nn {

std::int64_t read_integer(const nlohmann::json& value, const std::string& key, std::int64_t min, std::int64_t max) {
  auto refuse = [&] { fail("config", "{} must be an integer in [{}, {}], got {}", key, min, max, value.dump()); };
  if (value.is_number_integer()) {
    // An unsigned value above int64's range is above every range here.
    if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxInt64)) refuse();
    const auto v = value.get<std::int64_t>();
    if (v < min || v > max) refuse();
    return v;
  }
  if (value.is_number_float()) {
    const double v = value.get<double>();
    // Doubles compare exactly with the int64 bounds below 2^53; above, the conversion is checked.
    if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(min) || v >= 0x1p63 ||
        static_cast<std::int64_t>(v) > max)
      refuse();
    return static_cast<std::int64_t>(v);
  }
  refuse();
  return 0;
}

std::uint64_t read_unsigned(const nlohmann::json& value, const std::string& key) {
  auto refuse = [&] {
    fail("config", "{} must be an integer in [0, {}], got {}", key, std::numeric_limits<std::uint64_t>::max(),
         value.dump());
  };
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer()) {  // JSON built in code holds non-negative values as signed too
    if (value.get<std::int64_t>() < 0) refuse();
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (!std::isfinite(v) || v != std::floor(v) || v < 0 || v >= 0x1p64) refuse();
    return static_cast<std::uint64_t>(v);
  }
  refuse();
  return 0;
}

bool NumberRange::contains(double v) const {
  return std::isfinite(v) && (min_open ? v > min : v >= min) && (max_open ? v < max : v <= max);
}

std::string NumberRange::to_string() const {
  return fmt::format("{}{}, {}{}", min_open ? "(" : "[", min, max, max_open ? ")" : "]");
}

double read_number(const nlohmann::json& value, const std::string& key, const NumberRange& range) {
  const double v = value.is_number() ? value.get<double>() : std::nan("");
  if (!range.contains(v)) fail("config", "{} must be a finite number in {}, got {}", key, range.to_string(), value.dump());
  return v;
}

bool read_bool(const nlohmann::json& value, const std::string& key) {
  check(value.is_boolean(), "config", "{} must be true or false, got {}", key, value.dump());
  return value.get<bool>();
}

std::string read_string(const nlohmann::json& value, const std::string& key) {
  check(value.is_string(), "config", "{} must be a string, got {}", key, value.dump());
  return value.get<std::string>();
}

std::string read_choice(const nlohmann::json& value, const std::string& key, const std::vector<std::string>& valid) {
  std::string v = read_string(value, key);
  for (const auto& option : valid)
    if (v == option) return v;
  fail("config", "{} '{}' is not one of {}", key, v, fmt::join(valid, ", "));
}

void check_keys(const nlohmann::json& object, const std::string& where, const std::vector<std::string>& valid) {
  check(object.is_object(), "config", "{} must be a JSON object, got {}", where, object.dump());
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (const auto& v : valid) known = known || v == key;
    check(known, "config", "{}: unknown key '{}'; valid keys: {}", where, key,
          valid.empty() ? std::string("none") : fmt::format("{}", fmt::join(valid, ", ")));
  }
}

namespace {

// The parser's callback sees every key as it is read: one set of keys per open object.
class DuplicateKeys {
 public:
  explicit DuplicateKeys(std::string where) : where_(std::move(where)) {}
  bool operator()(int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      objects_.push_back({{}, path_of(last_key()), {}});
    } else if (event == Event::object_end) {
      objects_.pop_back();
    } else if (event == Event::key) {
      auto& object = objects_.back();
      const std::string key = parsed.get<std::string>();
      check(object.keys.insert(key).second, "config", "{}: duplicate key '{}'", where_, object.path + key);
      object.last = key;
    }
    return true;
  }

 private:
  struct Object {
    std::set<std::string> keys;
    std::string path;  // "model.layer." for keys inside model.layer
    std::string last;
  };
  std::string last_key() const { return objects_.empty() ? std::string() : objects_.back().last; }
  std::string path_of(const std::string& key) const {
    if (objects_.empty()) return "";
    return objects_.back().path + key + ".";
  }
  std::string where_;
  std::vector<Object> objects_;
};

template <class Input> nlohmann::json parse_with_checks(Input&& in, const std::string& where) {
  try {
    return nlohmann::json::parse(std::forward<Input>(in), DuplicateKeys(where), true, true);  // comments allowed
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("config", "{}: not valid JSON ({})", where, e.what());
  }
}

}  // namespace

nlohmann::json parse_json(std::istream& in, const std::string& where) { return parse_with_checks(in, where); }

nlohmann::json parse_json(const std::string& text, const std::string& where) { return parse_with_checks(text, where); }

}  // namespace mttt::nn
