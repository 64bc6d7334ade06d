// What every benchmark program records next to its figures: the machine, the environment
// that changes timings, and the date; and the small parsing helpers of their command lines.
#include <cblas.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "tools/bench/bench_util.hpp"

namespace mttt::bench {

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown";
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

}  // namespace

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value ? value : fallback;
}

nlohmann::json machine_info() {
  return {{"cpu", cpu_model()},
          {"nproc", std::thread::hardware_concurrency()},
          {"compiler", __VERSION__},
          {"openblas_config", openblas_get_config()},
          {"openblas_core", openblas_get_corename()},
          {"env",
           {{"OMP_WAIT_POLICY", env_or("OMP_WAIT_POLICY", "(unset)")},
            {"MTTT_NUM_THREADS", env_or("MTTT_NUM_THREADS", "(unset)")},
            {"MTTT_FUSION", env_or("MTTT_FUSION", "(unset)")},
            {"MTTT_PROFILE", env_or("MTTT_PROFILE", "(unset)")}}},
          {"date_utc", utc_now()}};
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

std::vector<std::int64_t> parse_positive_list(const std::string& text, const char* option) {
  std::vector<std::int64_t> values;
  for (const auto& part : split(text)) {
    std::size_t used = 0;
    std::int64_t value = 0;
    try {
      value = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || value < 1)
      throw std::invalid_argument(std::string(option) + " takes positive integers separated by commas, got '" + text + "'");
    values.push_back(value);
  }
  if (values.empty()) throw std::invalid_argument(std::string(option) + " needs at least one value");
  return values;
}

bool write_report(const nlohmann::json& report, const std::string& path) {
  std::ofstream out(path);
  out << report.dump(2) << "\n";
  if (out) return true;
  std::cerr << "could not write " << path << "\n";
  return false;
}

}  // namespace mttt::bench
