// Scaling in the sequence length: one layer at batch 1, D 192, H 3, from 256 tokens to 50,176
// (224 x 224 pixels), forward + outer backward and the evaluation forward. MTTT-MLP and linear
// attention should grow linearly in time and memory; self-attention quadratically, so it runs
// only where its attention matrices fit (the row says what it would need otherwise).
#include <cmath>

#include <fmt/format.h>

#include "tensor/tensor.hpp"
#include "tools/bench/layer_run.hpp"
#include "tools/bench/mttt_sections.hpp"

namespace mttt::bench {

namespace {

// Self-attention keeps about four (H, N, N) float32 matrices alive in its backward (scores,
// probabilities and their cotangents).
double self_attention_bytes(std::int64_t tokens) { return 4.0 * 3 * static_cast<double>(tokens) * tokens * 4; }
constexpr double kSelfAttentionLimit = 14.0 * (1 << 30);  // of the 24 GiB of the project machines

}  // namespace

SectionResult run_scaling(const MtttOptions& options) {
  Table table({"layer (B 1, D 192, H 3)", "tokens", "step ms", "us/token", "peak MB", "KB/token", "eval ms", "eval MB",
               "peer step ms", "peer/ours"});
  nlohmann::json rows = nlohmann::json::array();
  for (const std::string name : {"linear_attention", "mttt_linear", "mttt_mlp_t1", "self_attention"}) {
    if (!wanted(options, name)) continue;
    LayerCase c;
    for (const auto& candidate : layer_cases())
      if (candidate.name == name) c = candidate;
    for (const std::int64_t n : options.tokens) {
      if (name == "self_attention" && self_attention_bytes(n) > kSelfAttentionLimit) {
        const double gib = self_attention_bytes(n) / (1 << 30);
        table.add({name, std::to_string(n), fmt::format("does not fit: ~{:.0f} GiB of attention matrices", gib)});
        rows.push_back({{"name", name}, {"tokens", n}, {"skipped", "memory"}, {"estimated_bytes", self_attention_bytes(n)}});
        continue;
      }
      // Long sequences take seconds per step: fewer samples there.
      const int repeats = n >= 16384 ? std::max(1, options.repeats / 2) : options.repeats;
      const LayerRun run = measure_layer(c, {.batch = 1, .tokens = n, .width = 192, .heads = 3}, repeats, options.warmup, true, true, options.device);
      const double step = run.times.median("step");
      const nlohmann::json peer = peer_row(options.peer, "c", c.peer, n);
      const double peer_step = peer.is_null() ? 0 : peer.value("step_s", 0.0);
      table.add({name, std::to_string(n), fmt::format("{:.1f}", step * 1e3), fmt::format("{:.2f}", step / n * 1e6),
                 fmt::format("{:.1f}", static_cast<double>(run.train_peak_bytes) / (1 << 20)),
                 fmt::format("{:.1f}", static_cast<double>(run.train_peak_bytes) / n / 1024),
                 fmt::format("{:.1f}", run.times.median("eval") * 1e3),
                 fmt::format("{:.1f}", static_cast<double>(run.eval_peak_bytes) / (1 << 20)),
                 peer_step > 0 ? fmt::format("{:.1f}", peer_step * 1e3) : "-",
                 peer_step > 0 ? fmt::format("{:.2f}x", peer_step / step) : "-"});
      rows.push_back({{"name", name},
                      {"tokens", n},
                      {"times", run.times.to_json()},
                      {"train_peak_bytes", run.train_peak_bytes},
                      {"eval_peak_bytes", run.eval_peak_bytes},
                      {"training_flops", run.training_flops},
                      {"peer", peer}});
    }
  }
  return {"Scaling in N: one layer, batch 1, forward + outer backward (step) and NoGrad forward (eval), float32",
          table.str(), {{"rows", rows}}};
}

}  // namespace mttt::bench
