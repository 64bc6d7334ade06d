// A whole training step of ViT-Tiny (D 192, depth 12, H 3, MLP 768) on 32x32x3 images with
// 4x4 patches (64 tokens), 10 classes, batch 32: forward, softmax cross-entropy, backward and an
// AdamW update (lr 1e-3, weight decay 1e-4 scaled by lr), as the PyTorch peer's section (b).
// With --cuda-graphs the step is captured once after the warm-up runs and each timed run is one
// replay (tensor/graph.hpp): only the whole step is timed.
#include <fmt/format.h>

#include "mttt/ttt_mixer.hpp"
#include "nn/config.hpp"
#include "nn/loss.hpp"
#include "nn/optim/optimizer.hpp"
#include "nn/vit.hpp"
#include "tensor/graph.hpp"
#include "tensor/tensor.hpp"
#include "tools/bench/layer_run.hpp"
#include "tools/bench/mttt_sections.hpp"

namespace mttt::bench {

SectionResult run_vit_step(const MtttOptions& options) {
  ttt::register_ttt_mixers();
  constexpr std::int64_t kBatch = 32, kImage = 32, kClasses = 10;
  Table table({"ViT-Tiny step (32x32, patch 4, B 32)", "fwd ms", "bwd ms", "opt ms", "step ms", "img/s", "peak MB",
               "peer step ms", "peer/ours"});
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& c : layer_cases()) {
    if (!wanted(options, c.name)) continue;
    nn::ViTConfig config = nn::ViTConfig::tiny();
    config.patch = 4;
    config.image_height = config.image_width = kImage;
    config.classes = kClasses;
    config.layer = c.kind;
    config.layer_options = c.options;
    Generator generator(0);
    nn::ViT model(config, generator);
    model.to_(options.device);  // before the optimiser takes the parameters
    nn::OptimizerOptions adamw;
    adamw.lr = nn::constant_schedule(1e-3);
    adamw.weight_decay = 1e-4;
    nn::Adam optimizer(model.named_trainable_parameters(), adamw);
    const Tensor images = to(normal({kBatch, kImage, kImage, 3}, 0, 1, {}, &generator), options.device);
    const Tensor labels = to(cast(uniform({kBatch}, 0, kClasses, {}, &generator), DType::int64), options.device);
    // Kernels may still run when a call returns (cuBLAS on a GPU): wait before reading the clock.
    auto finished = [&] { synchronize(current_stream(options.device)); };

    PhaseTimes times;
    std::int64_t peak = 0;
    LaunchStats counts;  // of the last timed step
    using clock = std::chrono::steady_clock;
    // The step's device work, for a capture: the optimiser's scalars cross before each replay.
    Graph graph;
    auto capturable_step = [&] {
      optimizer.zero_grad();
      nn::softmax_cross_entropy(model.forward(images), labels).backward();
      optimizer.update();
    };
    for (int i = 0; i < options.warmup + options.repeats; ++i) {
      const bool record = i >= options.warmup;
      if (options.cuda_graphs && record) {
        if (graph.empty()) graph = capture(options.device, capturable_step);
        const std::int64_t in_use = memory_stats(options.device).bytes_in_use;
        reset_peak_memory(options.device);
        const LaunchStats before = launch_stats_all_devices();
        auto start = clock::now();
        optimizer.prepare_step();
        graph.replay();
        optimizer.finish_step();
        finished();
        times.add("step", seconds_since(start));
        counts = launch_stats_all_devices() - before;
        peak = std::max(peak, memory_stats(options.device).peak_bytes_in_use - in_use);
        continue;
      }
      const std::int64_t in_use = memory_stats(options.device).bytes_in_use;
      reset_peak_memory(options.device);
      const LaunchStats before = launch_stats_all_devices();
      auto start = clock::now();
      optimizer.zero_grad();
      Tensor loss = nn::softmax_cross_entropy(model.forward(images), labels);
      finished();
      const double forward = seconds_since(start);
      loss.backward();
      finished();
      const double backward = seconds_since(start);
      optimizer.step();
      finished();
      const double total = seconds_since(start);
      if (!record) continue;
      times.add("forward", forward);
      times.add("backward", backward - forward);
      times.add("optimizer", total - backward);
      times.add("step", total);
      counts = launch_stats_all_devices() - before;
      peak = std::max(peak, memory_stats(options.device).peak_bytes_in_use - in_use);
    }
    const double step = times.median("step");
    const nlohmann::json peer = peer_row(options.peer, "b", c.peer);
    const double peer_step = peer.is_null() ? 0 : peer.value("step_s", 0.0);
    const bool phases = !options.cuda_graphs;
    table.add({c.name, phases ? fmt::format("{:.0f}", times.median("forward") * 1e3) : "-",
               phases ? fmt::format("{:.0f}", times.median("backward") * 1e3) : "-",
               phases ? fmt::format("{:.1f}", times.median("optimizer") * 1e3) : "-",
               fmt::format("{:.0f}", step * 1e3), fmt::format("{:.0f}", kBatch / step),
               fmt::format("{:.0f}", static_cast<double>(peak) / (1 << 20)),
               peer_step > 0 ? fmt::format("{:.0f}", peer_step * 1e3) : "-",
               peer_step > 0 ? fmt::format("{:.2f}x", peer_step / step) : "-"});
    rows.push_back({{"name", c.name},
                    {"times", times.to_json()},
                    {"peak_bytes", peak},
                    {"step_counts", counts_json(counts)},
                    {"peer", peer}});
  }
  return {options.cuda_graphs ? "ViT-Tiny training step (forward, cross-entropy, backward, AdamW), float32, replayed from "
                                "a CUDA graph"
                              : "ViT-Tiny training step (forward, cross-entropy, backward, AdamW), float32",
          table.str(), {{"rows", rows}, {"cuda_graphs", options.cuda_graphs}}};
}

}  // namespace mttt::bench
