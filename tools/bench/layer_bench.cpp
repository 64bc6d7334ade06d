// One drop-in layer, the MTTT paper's unit of comparison: B 8, N 196, D 192, H 3, float32.
// A training step is z = layer(y), L = sum(z * r), L.backward() into every parameter and y
// (second order through the inner loop for the TTT layers); the evaluation path is the forward
// under NoGrad (a TTT layer still runs its inner loop, first order, on fresh fast weights).
// GFLOP/s divide `mttt flops`'s count of the products executed by the median time.
#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "mttt/flops.hpp"
#include "mttt/ttt_mixer.hpp"
#include "nn/token_mixer.hpp"
#include "tensor/tensor.hpp"
#include "tools/bench/layer_run.hpp"
#include "tools/bench/mttt_sections.hpp"

namespace mttt::bench {

std::vector<LayerCase> layer_cases() {
  return {{"linear_attention", "linear_attention", nlohmann::json::object(), "linear_attn"},
          {"linear_attention_elu", "linear_attention_elu", nlohmann::json::object(), "linear_attn_elu"},
          {"mttt_linear", "mttt_linear", nlohmann::json::object(), "mttt_linear"},
          {"mttt_mlp_t1", "mttt_mlp", {{"steps", 1}}, "mttt_mlp_t1", 1},
          {"mttt_mlp_t4", "mttt_mlp", {{"steps", 4}}, "mttt_mlp_t4", 4},
          {"mttt_mlp_t4_sgd", "mttt_mlp", {{"steps", 4}, {"sgd", true}}, "mttt_mlp_t4_sgd", 4, true},
          {"self_attention", "self_attention", nlohmann::json::object(), "self_attn"}};
}

double PhaseTimes::median(const std::string& phase) const {
  auto it = samples_.find(phase);
  return it == samples_.end() || it->second.empty() ? 0.0 : median_of(it->second);
}

nlohmann::json PhaseTimes::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [phase, samples] : samples_) out[phase] = {{"median_s", median_of(samples)}, {"samples_s", samples}};
  return out;
}

nlohmann::json counts_json(const LaunchStats& c) {
  return {{"kernel_launches", c.kernel_launches},
          {"host_syncs", c.host_syncs},
          {"bytes_to_device", c.bytes_to_device},
          {"bytes_to_host", c.bytes_to_host},
          {"driver_allocations", c.driver_allocations}};
}

nlohmann::json peer_row(const nlohmann::json& peer, const std::string& section, const std::string& name, std::int64_t n) {
  if (peer.is_null() || !peer.contains("sections") || !peer["sections"].contains(section)) return nullptr;
  for (const auto& row : peer["sections"][section])
    if (row.value("name", "") == name && !row.contains("error") && (n < 0 || row.value("n", std::int64_t{-1}) == n))
      return row;
  return nullptr;
}

bool wanted(const MtttOptions& options, const std::string& name) {
  return options.layers.empty() || std::find(options.layers.begin(), options.layers.end(), name) != options.layers.end();
}

LayerRun measure_layer(const LayerCase& c, const LayerShape& shape, int repeats, int warmup, bool train,
                       bool eval, Device device) {
  ttt::register_ttt_mixers();
  const std::int64_t batch = shape.batch, tokens = shape.tokens, kWidth = shape.width, kHeads = shape.heads;
  Generator generator(0);
  auto layer = nn::make_token_mixer({.kind = c.kind, .width = kWidth, .heads = kHeads, .tokens = tokens, .options = c.options},
                                    generator);
  layer->to_(device);
  std::vector<Tensor> params;
  for (auto& [name, tensor] : layer->named_trainable_parameters()) params.push_back(tensor);
  Tensor y = to(normal({batch, tokens, kWidth}, 0, 1, {}, &generator), device).requires_grad_();
  const Tensor r = to(normal({batch, tokens, kWidth}, 0, 1, {}, &generator), device);
  // Kernels may still run when a call returns (cuBLAS on a GPU): wait before reading the clock.
  auto finished = [device] { synchronize(current_stream(device)); };

  LayerRun run;
  using clock = std::chrono::steady_clock;
  auto train_step = [&](bool record) {
    for (auto& p : params) p.zero_grad();
    y.zero_grad();
    const std::int64_t in_use = memory_stats(device).bytes_in_use;
    reset_peak_memory(device);
    const LaunchStats counts = launch_stats_all_devices();
    auto start = clock::now();
    Tensor loss = sum(layer->forward(y) * r);
    finished();
    const double forward = seconds_since(start);
    loss.backward();
    finished();
    const double total = seconds_since(start);
    if (!record) return;
    run.times.add("forward", forward);
    run.times.add("backward", total - forward);
    run.times.add("step", total);
    run.train_counts = launch_stats_all_devices() - counts;
    run.train_peak_bytes = std::max(run.train_peak_bytes, memory_stats(device).peak_bytes_in_use - in_use);
  };
  auto eval_step = [&](bool record) {
    NoGrad no_grad;
    const std::int64_t in_use = memory_stats(device).bytes_in_use;
    reset_peak_memory(device);
    const LaunchStats counts = launch_stats_all_devices();
    auto start = clock::now();
    Tensor z = layer->forward(y);
    finished();
    const double seconds = seconds_since(start);
    if (!record) return;
    run.times.add("eval", seconds);
    run.eval_counts = launch_stats_all_devices() - counts;
    run.eval_peak_bytes = std::max(run.eval_peak_bytes, memory_stats(device).peak_bytes_in_use - in_use);
  };
  for (int i = 0; i < warmup; ++i) {
    if (train) train_step(false);
    if (eval) eval_step(false);
  }
  for (int i = 0; i < repeats; ++i) {
    if (train) train_step(true);
    if (eval) eval_step(true);
  }
  const auto products =
      ttt::layer_products({.kind = c.kind, .tokens = tokens, .width = kWidth, .heads = kHeads, .steps = c.steps, .sgd = c.sgd});
  run.training_flops = ttt::totals(products).training * static_cast<double>(batch);
  return run;
}

namespace {

// The layer table at one shape; `peer_section` names the peer's rows at that shape ("a").
SectionResult layer_table(const MtttOptions& options, const LayerShape& shape, const std::string& peer_section,
                          const std::string& title) {
  Table table({fmt::format("layer (B {}, N {}, D {}, H {})", shape.batch, shape.tokens, shape.width, shape.heads), "fwd ms", "bwd ms", "step ms", "time/lin", "FLOPs/lin", "ratio/FLOPs",
               "GFLOP/s", "peak MB", "launches", "eval ms", "eval MB", "peer step ms", "peer/ours", "peer eval ms"});
  nlohmann::json rows = nlohmann::json::array();
  double reference_time = 0, reference_flops = 0;
  for (const auto& c : layer_cases()) {
    if (!wanted(options, c.name) && c.name != "linear_attention") continue;
    const LayerRun run = measure_layer(c, shape, options.repeats, options.warmup, true, true, options.device);
    const double step = run.times.median("step");
    if (c.name == "linear_attention") reference_time = step, reference_flops = run.training_flops;
    const double time_ratio = step / reference_time, flop_ratio = run.training_flops / reference_flops;
    const nlohmann::json peer = peer_row(options.peer, peer_section, c.peer);
    const double peer_step = peer.is_null() ? 0 : peer.value("step_s", 0.0);
    const double peer_eval = peer.is_null() ? 0 : peer.value("fwd_nograd_s", 0.0);
    auto ms = [](double s) { return s > 0 ? fmt::format("{:.1f}", s * 1e3) : std::string("-"); };
    table.add({c.name, ms(run.times.median("forward")), ms(run.times.median("backward")), ms(step),
               fmt::format("{:.2f}x", time_ratio), fmt::format("{:.2f}x", flop_ratio),
               fmt::format("{:.2f}", time_ratio / flop_ratio), fmt::format("{:.1f}", run.training_flops / step * 1e-9),
               fmt::format("{:.1f}", static_cast<double>(run.train_peak_bytes) / (1 << 20)),
               std::to_string(run.train_counts.kernel_launches), ms(run.times.median("eval")),
               fmt::format("{:.1f}", static_cast<double>(run.eval_peak_bytes) / (1 << 20)), ms(peer_step),
               peer_step > 0 ? fmt::format("{:.2f}x", peer_step / step) : "-", ms(peer_eval)});
    rows.push_back({{"name", c.name},
                    {"kind", c.kind},
                    {"options", c.options},
                    {"batch", shape.batch},
                    {"tokens", shape.tokens},
                    {"width", shape.width},
                    {"heads", shape.heads},
                    {"times", run.times.to_json()},
                    {"training_flops", run.training_flops},
                    {"time_ratio_to_linear_attention", time_ratio},
                    {"flop_ratio_to_linear_attention", flop_ratio},
                    {"gflops", run.training_flops / step * 1e-9},
                    {"train_peak_bytes", run.train_peak_bytes},
                    {"eval_peak_bytes", run.eval_peak_bytes},
                    {"train_step_counts", counts_json(run.train_counts)},
                    {"eval_counts", counts_json(run.eval_counts)},
                    {"peer", peer}});
    if (!wanted(options, c.name)) rows.back()["reference_only"] = true;
  }
  return {title + ", forward + outer backward, float32 (time/lin and FLOPs/lin: ratios to linear attention; "
          "ratio/FLOPs: their quotient, target <= 1.15; peak MB: tensor bytes at the peak beyond inputs and parameters; "
          "launches: kernels a training step starts; eval: the forward under NoGrad)",
          table.str(), {{"rows", rows}}};
}

}  // namespace

SectionResult run_layers(const MtttOptions& options) {
  return layer_table(options, {.batch = 8, .tokens = 196, .width = 192, .heads = 3}, "a", "One layer (ViT-Tiny's)");
}

// The size at which the paper's ImageNet runs train: a ViT-S/16 layer at batch 64.
SectionResult run_layers_s16(const MtttOptions& options) {
  return layer_table(options, {.batch = 64, .tokens = 196, .width = 384, .heads = 6}, "s16",
                     "One ViT-S/16 layer at batch 64");
}

}  // namespace mttt::bench
