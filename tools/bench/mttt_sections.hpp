// The sections of the MTTT benchmark (issues 3 and 4), one file each:
//   layer_bench.cpp     one drop-in layer (B 8, N 196, D 192, H 3; and layers_s16: ViT-S/16's,
//                       B 64, N 196, D 384, H 6): forward + outer backward, the evaluation path,
//                       memory, launches, GFLOP/s, ratios to linear attention
//   scaling_bench.cpp   one layer at batch 1 from 256 to 50,176 tokens: time and peak memory
//   vit_step_bench.cpp  a ViT-Tiny training step (32x32x3 images, 4x4 patches, batch 32, AdamW),
//                       eager or (--cuda-graphs) replayed from one capture
// Each row names the peer's row (../shared/peer/bench.py) it is compared with, when a peer
// JSON file from the same run is given.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/device_stats.hpp"
#include "tools/bench/bench_util.hpp"

namespace mttt::bench {

// A drop-in layer as the benchmark names it, the token-mixer kind and options that build it,
// and the name of the same layer in the PyTorch peer's tables.
struct LayerCase {
  std::string name;
  std::string kind;
  nlohmann::json options = nlohmann::json::object();
  std::string peer;
  int steps = 1;
  bool sgd = false;
};
std::vector<LayerCase> layer_cases();  // linear attention first: the ratios' reference

// Seconds per phase of a step ("forward", "backward", "step", ...), one sample per timed run.
class PhaseTimes {
 public:
  void add(const std::string& phase, double seconds) { samples_[phase].push_back(seconds); }
  double median(const std::string& phase) const;  // 0 when never recorded
  nlohmann::json to_json() const;

 private:
  std::map<std::string, std::vector<double>> samples_;
};

struct MtttOptions {
  int repeats = 5;
  int warmup = 1;
  std::vector<std::string> layers;   // LayerCase names; empty: all
  std::vector<std::int64_t> tokens;  // scaling section
  nlohmann::json peer;               // bench_torch.json of ../shared/peer/bench.py, or null
  Device device = kCPU;              // where the layers and the ViT run
  bool cuda_graphs = false;          // the ViT step captured once and replayed (tensor/graph.hpp)
};

// A device's counters (launches, host synchronisations, bytes each way, driver allocations) as
// the JSON rows carry them; the timed benchmarks' own synchronisations (one per timed phase)
// are among them.
nlohmann::json counts_json(const LaunchStats& counts);

// The peer's row `name` of `section` ("a", "b", "c"; for "c" also its n), or null.
nlohmann::json peer_row(const nlohmann::json& peer, const std::string& section, const std::string& name,
                        std::int64_t n = -1);

SectionResult run_layers(const MtttOptions& options);
SectionResult run_layers_s16(const MtttOptions& options);
SectionResult run_scaling(const MtttOptions& options);
SectionResult run_vit_step(const MtttOptions& options);

}  // namespace mttt::bench
