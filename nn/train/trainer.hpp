// The training loop: a ViT trained on a config's data with its optimiser, evaluated every
// epoch, logged as JSON lines (out/metrics.jsonl) with a progress line, checkpointed atomically
// (out/checkpoint.safetensors) and resumable from a checkpoint so that the resumed run logs the
// same losses as an uninterrupted one (same seed and thread count).
//
// For TTT layers the outer loop is this ordinary loop: their forward takes the inner gradient
// steps with create_graph, and loss.backward() differentiates through them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/optim/optimizer.hpp"
#include "nn/train/data_setup.hpp"
#include "nn/train/metrics_log.hpp"
#include "nn/train/train_config.hpp"
#include "nn/vit.hpp"

namespace mttt::nn {

struct EvalResult {
  double loss = 0, accuracy = 0;
  std::int64_t examples = 0;
  // Per TTT layer ("blocks.3.layer"): the inner losses l(W_t), t = 0..T, over the pass.
  std::map<std::string, std::vector<double>> inner_losses;
};

class Trainer {
 public:
  // With `resume` (a checkpoint path) the model, optimiser and step come from it; its model
  // section must equal the config's.
  explicit Trainer(TrainConfig config, const std::string& resume = "");

  // Trains to the configured end (or run.max_steps), evaluating and checkpointing each epoch.
  void run();
  EvalResult evaluate();
  // One update (all of its accumulated micro-batches). `log` writes a training record and
  // returns the loss; without it the step never waits for the device and returns NaN. For
  // callers that time steps (mttt dryrun).
  double train_step(bool log);
  // The last step's loss, read from the device (a synchronisation); NaN before the first step.
  double last_loss() const;

  // Called with each record once it is written to metrics.jsonl (a training record every
  // run.log_every steps, an evaluation record per epoch); it may throw to stop the run (the
  // Python module's per-step callback).
  std::function<void(const nlohmann::json& record)> on_record;

  ViT& model() { return *model_; }
  std::int64_t step() const { return step_; }
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  std::int64_t total_steps() const { return total_steps_; }

 private:
  // `train_seconds`: wall time of the epoch's training steps (evaluation excluded).
  void log_eval(const EvalResult& result, std::int64_t epoch, double train_seconds);
  void save();
  std::vector<std::pair<std::string, class InnerLossReporter*>> reporters();

  TrainConfig config_;
  std::unique_ptr<ViT> model_;
  std::unique_ptr<Optimizer> optimizer_;
  Datasets data_;
  std::unique_ptr<MetricsLog> metrics_;
  Tensor last_loss_;  // the last step's loss, on the device
  std::int64_t step_ = 0, steps_per_epoch_ = 1, total_steps_ = 1;
};

// A model and its config from a checkpoint, for `mttt eval`.
std::unique_ptr<ViT> load_model(const std::string& checkpoint, TrainConfig* config_out,
                                const std::vector<std::string>& overrides = {});
EvalResult evaluate_model(ViT& model, data::Pipeline& data, const TrainConfig& config);

}  // namespace mttt::nn
