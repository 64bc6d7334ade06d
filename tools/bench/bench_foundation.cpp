// The foundation benchmark (issue 2): GEMM and batched products next to OpenBLAS, fusion,
// and tape overhead. Prints one table per section and writes every figure, with the machine
// it ran on, to a JSON file. A program, never a test: timings depend on the machine's load.
//
//   OMP_WAIT_POLICY=PASSIVE ./build-bench/tools/bench/bench_foundation --repeats 5
//   bench_foundation --sections gemm,tape --threads 2 --json out.json
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "tensor/tensor.hpp"
#include "tools/bench/sections.hpp"

namespace {

using mttt::bench::Options;
using mttt::bench::SectionResult;

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

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value ? value : fallback;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
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

// Whether every row of a section meets its target; null when the section did not run.
nlohmann::json all_met(const nlohmann::json& report, const char* section) {
  if (!report.contains(section)) return nullptr;
  bool met = true;
  for (const auto& row : report[section]["rows"]) met = met && row["target_met"].get<bool>();
  return met;
}

std::vector<std::pair<std::string, nlohmann::json>> targets(const nlohmann::json& report) {
  return {{"gemm: >= 90% of OpenBLAS on every shape and thread count", all_met(report, "gemm")},
          {"batched per-head products: >= 90% of OpenBLAS", all_met(report, "batched")},
          {"fusion: fused >= 2x faster than op by op", all_met(report, "fusion")},
          {"tape: forward + backward < 1 us per node", all_met(report, "tape")}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mttt foundation benchmark: GEMM and batched products vs OpenBLAS, fusion, tape overhead"};
  std::string sections_text = "gemm,batched,fusion,tape", threads_text = "1,2", json_path = "bench_foundation.json";
  Options options;
  app.add_option("--sections", sections_text, "comma-separated subset of gemm,batched,fusion,tape")
      ->capture_default_str();
  app.add_option("--repeats", options.repeats, "timed samples per figure (median and best are reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", options.warmup, "untimed runs before the samples")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--threads", threads_text, "comma-separated thread counts")->capture_default_str();
  app.add_option("--json", json_path, "where to write the figures")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const std::map<std::string, SectionResult (*)(const Options&)> runners{{"gemm", mttt::bench::run_gemm},
                                                                         {"batched", mttt::bench::run_batched},
                                                                         {"fusion", mttt::bench::run_fusion},
                                                                         {"tape", mttt::bench::run_tape}};
  const std::vector<std::string> order{"gemm", "batched", "fusion", "tape"};
  std::vector<std::string> wanted = split(sections_text);
  for (const auto& name : wanted)
    if (!runners.count(name)) {
      std::cerr << "unknown section '" << name << "'; choose from gemm,batched,fusion,tape\n";
      return 2;
    }
  options.threads.clear();
  for (const auto& t : split(threads_text)) {
    try {
      options.threads.push_back(std::stoi(t));
    } catch (const std::exception&) {
      options.threads.clear();
    }
    if (options.threads.empty() || options.threads.back() < 1) {
      std::cerr << "--threads takes positive integers separated by commas, got '" << threads_text << "'\n";
      return 2;
    }
  }

  nlohmann::json report = {{"machine", machine_info()},
                           {"settings", {{"repeats", options.repeats}, {"warmup", options.warmup}, {"threads", options.threads}}}};
  std::cout << "machine: " << report["machine"]["cpu"].get<std::string>() << ", " << std::thread::hardware_concurrency()
            << " hardware threads; OMP_WAIT_POLICY=" << env_or("OMP_WAIT_POLICY", "(unset)") << "; "
            << options.repeats << " repeats after " << options.warmup << " warm-up run(s)\n"
            << "OpenBLAS: " << openblas_get_config() << "\n\n";
  for (const auto& name : order) {
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    SectionResult result = runners.at(name)(options);
    std::cout << result.title << "\n" << result.table << std::endl;
    report[name] = result.json;
  }
  std::cout << "targets (issue 2, on the medians):\n";
  for (const auto& [name, met] : targets(report)) {
    report["targets"][name] = met;
    std::cout << "  " << name << ": " << (met.is_null() ? "not measured" : met.get<bool>() ? "met" : "MISSED") << "\n";
  }
  std::ofstream out(json_path);
  out << report.dump(2) << "\n";
  if (!out) {
    std::cerr << "could not write " << json_path << "\n";
    return 1;
  }
  std::cout << "figures written to " << json_path << "\n";
  return 0;
}
