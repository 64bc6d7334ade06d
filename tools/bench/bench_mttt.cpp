// The MTTT benchmark (issues 3 and 4): one drop-in layer (training step and evaluation path),
// scaling in the sequence length, and a ViT-Tiny training step, each next to the PyTorch peer
// when its JSON file from the same run is given. Prints one table per section and writes every
// sample, with the machine and each step's device counters (launches, host synchronisations,
// bytes each way, driver allocations), to a JSON file. A program, never a test.
//
//   /usr/bin/python3 ../shared/peer/bench.py --sections abc --json bench_torch.json
//   OMP_WAIT_POLICY=PASSIVE ./build-bench/tools/bench/bench_mttt --peer bench_torch.json
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "tensor/tensor.hpp"
#include "tools/bench/mttt_sections.hpp"

int main(int argc, char** argv) {
  using namespace mttt::bench;
  CLI::App app{"mttt MTTT benchmark: one layer, scaling in N, ViT-Tiny training step; next to the PyTorch peer"};
  std::string sections_text = "layers,scaling,vit", layers_text, tokens_text = "256,1024,4096,16384,50176",
              json_path = "bench_mttt.json", peer_path, device_text = "cpu";
  MtttOptions options;
  app.add_option("--sections", sections_text,
                 "comma-separated subset of layers,layers_s16,scaling,vit (layers_s16: ViT-S/16's layer at batch 64, "
                 "a GPU's size)")
      ->capture_default_str();
  app.add_option("--layers", layers_text, "comma-separated layer names (default: all)");
  app.add_option("--tokens", tokens_text, "sequence lengths of the scaling section")->capture_default_str();
  app.add_option("--repeats", options.repeats, "timed runs per figure (medians are reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", options.warmup, "untimed runs first")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--peer", peer_path, "bench_torch.json written by ../shared/peer/bench.py in the same sitting");
  app.add_option("--json", json_path, "where to write the figures")->capture_default_str();
  app.add_option("--device", device_text, "where the layers and the ViT run (cpu, thrust-host, cuda)")->capture_default_str();
  app.add_flag("--cuda-graphs", options.cuda_graphs,
               "vit: capture the training step once and time its replays (cuda, thrust-host; run.cuda_graphs)");
  CLI11_PARSE(app, argc, argv);

  const std::map<std::string, SectionResult (*)(const MtttOptions&)> runners{
      {"layers", run_layers}, {"layers_s16", run_layers_s16}, {"scaling", run_scaling}, {"vit", run_vit_step}};
  try {
    options.device = mttt::parse_device(device_text);
    mttt::require_device(options.device);  // a device this build lacks is named before anything runs
    if (options.cuda_graphs && options.device == mttt::kCPU)
      throw std::invalid_argument("--cuda-graphs: the cpu device cannot capture a step; use --device cuda (or thrust-host)");
    if (options.cuda_graphs && options.warmup < 1)
      throw std::invalid_argument("--cuda-graphs needs --warmup 1 or more: the capture follows an eager step");
    options.layers = split(layers_text);
    std::vector<std::string> known;
    for (const auto& c : layer_cases()) known.push_back(c.name);
    for (const auto& name : options.layers)
      if (std::find(known.begin(), known.end(), name) == known.end())
        throw std::invalid_argument("--layers: unknown layer '" + name + "'");
    for (const auto& name : split(sections_text))
      if (!runners.count(name)) throw std::invalid_argument("--sections: unknown section '" + name + "'; choose from layers,layers_s16,scaling,vit");
    options.tokens = parse_positive_list(tokens_text, "--tokens");
    if (!peer_path.empty()) {
      std::ifstream in(peer_path);
      if (!in) throw std::invalid_argument("--peer: cannot open " + peer_path);
      options.peer = nlohmann::json::parse(in);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_mttt: " << e.what() << "\n";
    return 2;
  }

  nlohmann::json report = {{"machine", machine_info()},
                           {"settings",
                            {{"repeats", options.repeats},
                             {"warmup", options.warmup},
                             {"threads", mttt::num_threads()},
                             {"device", mttt::to_string(options.device)},
                             {"cuda_graphs", options.cuda_graphs},
                             {"peer", peer_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(peer_path)}}}};
  std::cout << "machine: " << report["machine"]["cpu"].get<std::string>() << ", " << mttt::num_threads()
            << " threads, device " << mttt::to_string(options.device) << ", OMP_WAIT_POLICY=" << env_or("OMP_WAIT_POLICY", "(unset)") << "; medians of " << options.repeats
            << " runs after " << options.warmup << " warm-up run(s)"
            << (peer_path.empty() ? "" : "; peer: " + peer_path) << "\n\n";
  const auto wanted_sections = split(sections_text);
  for (const std::string name : {"layers", "layers_s16", "scaling", "vit"}) {
    if (std::find(wanted_sections.begin(), wanted_sections.end(), name) == wanted_sections.end()) continue;
    const mttt::LaunchStats before = mttt::launch_stats_all_devices();
    SectionResult result = runners.at(name)(options);
    std::cout << result.title << "\n" << result.table << std::endl;
    report[name] = result.json;
    report[name]["section_counts"] = counts_json(mttt::launch_stats_all_devices() - before);
    write_report(report, json_path);  // after every section: long runs keep what they measured
  }
  if (!write_report(report, json_path)) return 1;
  std::cout << "figures written to " << json_path << "\n";
  return 0;
}
