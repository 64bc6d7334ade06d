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
using mttt::bench::env_or;
using mttt::bench::machine_info;
using mttt::bench::split;
using mttt::bench::write_report;
using mttt::bench::SectionResult;

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
  CLI::App app{"mttt foundation benchmark: GEMM and batched products vs OpenBLAS, fusion, tape overhead, reductions"};
  std::string sections_text = "gemm,batched,fusion,tape,reduce", threads_text = "1,2", json_path = "bench_foundation.json",
              device_text = "cpu";
  Options options;
  app.add_option("--sections", sections_text, "comma-separated subset of gemm,batched,fusion,tape,reduce")
      ->capture_default_str();
  app.add_option("--repeats", options.repeats, "timed samples per figure (median and best are reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", options.warmup, "untimed runs before the samples")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--threads", threads_text, "comma-separated thread counts")->capture_default_str();
  app.add_option("--json", json_path, "where to write the figures")->capture_default_str();
  app.add_option("--device", device_text,
                 "where mttt's side runs in the gemm, batched and reduce sections (cpu, thrust-host, cuda)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const std::map<std::string, SectionResult (*)(const Options&)> runners{{"gemm", mttt::bench::run_gemm},
                                                                         {"batched", mttt::bench::run_batched},
                                                                         {"fusion", mttt::bench::run_fusion},
                                                                         {"tape", mttt::bench::run_tape},
                                                                         {"reduce", mttt::bench::run_reduce}};
  const std::vector<std::string> order{"gemm", "batched", "fusion", "tape", "reduce"};
  std::vector<std::string> wanted = split(sections_text);
  for (const auto& name : wanted)
    if (!runners.count(name)) {
      std::cerr << "unknown section '" << name << "'; choose from gemm,batched,fusion,tape,reduce\n";
      return 2;
    }
  try {
    options.device = mttt::parse_device(device_text);
    mttt::require_device(options.device);  // a device this build lacks is named before anything runs
    options.threads.clear();
    for (auto t : mttt::bench::parse_positive_list(threads_text, "--threads")) options.threads.push_back(static_cast<int>(t));
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }

  nlohmann::json report = {{"machine", machine_info()},
                           {"settings",
                            {{"repeats", options.repeats},
                             {"warmup", options.warmup},
                             {"threads", options.threads},
                             {"device", mttt::to_string(options.device)}}}};
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
  if (!write_report(report, json_path)) return 1;
  std::cout << "figures written to " << json_path << "\n";
  return 0;
}
