// Timing and table helpers shared by the benchmark sections. Every figure is the median (and
// the minimum) of `repeats` samples taken with steady_clock after a warm-up; a sample that
// would be shorter than a few milliseconds runs the body several times and is divided, so
// that clock resolution and one-off scheduler noise do not dominate small kernels.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tensor/device.hpp"

namespace mttt::bench {

struct Options {
  int repeats = 5;
  int warmup = 1;
  std::vector<int> threads{1, 2};
  Device device = kCPU;  // where mttt's side of the GEMM sections and the reductions run (OpenBLAS stays on the CPU)
};

struct Timing {
  double median = 0;  // seconds per call (wall clock)
  double min = 0;
  // CPU time of the calling thread per call, median: on a loaded machine it leaves out the
  // time the thread waited for a core. Meaningful for single-threaded work only.
  double thread_cpu_median = 0;
  int calls_per_sample = 1;
  std::vector<double> samples;  // seconds per call, in the order taken

  nlohmann::json to_json() const {
    return {{"median_s", median},
            {"min_s", min},
            {"thread_cpu_median_s", thread_cpu_median},
            {"calls_per_sample", calls_per_sample},
            {"samples_s", samples}};
  }
};

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

inline double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Runs `body` `warmup` times, then takes `repeats` samples.
template <class Body> Timing measure(const Options& options, Body&& body, double min_sample_seconds = 0.02) {
  using clock = std::chrono::steady_clock;
  double first = 0;
  for (int i = 0; i < std::max(1, options.warmup); ++i) {
    auto start = clock::now();
    body();
    first = seconds_since(start);
  }
  Timing t;
  if (first > 0 && first < min_sample_seconds)
    t.calls_per_sample = static_cast<int>(std::min(10000.0, std::ceil(min_sample_seconds / first)));
  std::vector<double> cpu;
  for (int r = 0; r < std::max(1, options.repeats); ++r) {
    const double cpu_start = thread_cpu_seconds();
    auto start = clock::now();
    for (int i = 0; i < t.calls_per_sample; ++i) body();
    t.samples.push_back(seconds_since(start) / t.calls_per_sample);
    cpu.push_back((thread_cpu_seconds() - cpu_start) / t.calls_per_sample);
  }
  t.median = median_of(t.samples);
  t.min = *std::min_element(t.samples.begin(), t.samples.end());
  t.thread_cpu_median = median_of(cpu);
  return t;
}

// A text table whose columns are sized to their widest cell; the first column is left-aligned,
// the others right-aligned (they hold numbers).
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string str() const {
    std::vector<std::size_t> width(rows_.front().size(), 0);
    for (const auto& row : rows_)
      for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
    std::string out;
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      for (std::size_t c = 0; c < width.size(); ++c) {
        const std::string& cell = c < rows_[r].size() ? rows_[r][c] : std::string();
        out += c == 0 ? fmt::format("{:<{}}", cell, width[c]) : fmt::format("  {:>{}}", cell, width[c]);
      }
      out += '\n';
      if (r == 0) {
        std::size_t total = 0;
        for (auto w : width) total += w + 2;
        out += std::string(total - 2, '-') + '\n';
      }
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// The machine, the environment variables that change timings, and the date.
nlohmann::json machine_info();
std::string env_or(const char* name, const char* fallback);
// "a,b,c" -> {"a", "b", "c"}; empty parts are dropped.
std::vector<std::string> split(const std::string& text);
// "1,2,4" -> {1, 2, 4}; throws std::invalid_argument naming `option` on anything else.
std::vector<std::int64_t> parse_positive_list(const std::string& text, const char* option);

// Writes the report as indented JSON; on failure says so on stderr and returns false.
bool write_report(const nlohmann::json& report, const std::string& path);

// The figures of one section: what is printed and what goes into the JSON file.
struct SectionResult {
  std::string title;
  std::string table;
  nlohmann::json json;
};

}  // namespace mttt::bench
