// The training loop: a ViT trained on a config's data with its optimiser, evaluated every
// epoch, logged as JSON lines (out/metrics.jsonl) with a progress line, checkpointed atomically
// (out/checkpoint.safetensors) and resumable from a checkpoint so that the resumed run logs the
// same losses as an uninterrupted one (same seed and thread count).
//
// No run is lost or corrupted (docs/reliability.md): the run folder is locked and a previous run
// in it is not taken over unasked (nn/train/run_folder.hpp); a NaN or Inf loss or gradient is
// never applied, and stops the run naming the step (or skips the update: run.nonfinite); a
// non-finite checkpoint is never written; SIGINT, SIGTERM and SIGHUP stop at the next step
// boundary with a checkpoint; on resume the records logged past the checkpoint are dropped.
//
// Data-parallel (docs/distributed.md): given a communicator of N ranks (`mpirun -np N mttt
// train`), every rank trains on its share of each global batch, the gradients are averaged, and
// rank 0 alone prints, logs and checkpoints (nn/train/data_parallel.hpp).
//
// For TTT layers the outer loop is this ordinary loop: their forward takes the inner gradient
// steps with create_graph, and loss.backward() differentiates through them.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/data/device_batches.hpp"
#include "nn/optim/optimizer.hpp"
#include "nn/train/data_setup.hpp"
#include "nn/train/data_parallel.hpp"
#include "nn/train/metrics_log.hpp"
#include "nn/train/run_folder.hpp"
#include "nn/train/step_graph.hpp"
#include "nn/train/train_config.hpp"
#include "nn/vit.hpp"

namespace mttt::nn {

struct EvalResult {
  double loss = 0, accuracy = 0;
  std::int64_t examples = 0;
  // Per TTT layer ("blocks.3.layer"): the inner losses l(W_t), t = 0..T, over the pass.
  std::map<std::string, std::vector<double>> inner_losses;
};

struct TrainerOptions {
  // A checkpoint to continue from: the model, optimiser and step come from it; its model
  // section must equal the config's.
  std::string resume;
  // Start afresh in a run folder that holds a previous run (its metrics and checkpoint go).
  bool overwrite = false;
  // The ranks of a data-parallel job (distributed::default_communicator() under mpirun); null:
  // the process alone.
  std::shared_ptr<distributed::Communicator> communicator = nullptr;
};

class Trainer {
 public:
  Trainer(TrainConfig config, TrainerOptions options);
  explicit Trainer(TrainConfig config, const std::string& resume = "")
      : Trainer(std::move(config), TrainerOptions{.resume = resume}) {}

  // Trains to the configured end (or run.max_steps), evaluating and checkpointing each epoch.
  // Returns 0 at the end, or the signal (SIGINT, SIGTERM, SIGHUP) that stopped it at a step
  // boundary, after a checkpoint of that step.
  int run();
  EvalResult evaluate();
  // One update (all of its accumulated micro-batches). `log` writes a training record and
  // returns the loss; without it the step never waits for the device and returns NaN. For
  // callers that time steps (mttt dryrun). A non-finite loss or gradient norm applies nothing:
  // with run.nonfinite = skip the step is counted as skipped and logged as a "skip" record (the
  // check reads the loss and the norm: one synchronisation a step); with stop (the default) a
  // flag on the device records the first such step, and the run stops naming it at the next point
  // that synchronises anyway (a logged step, an evaluation, a checkpoint, the end).
  double train_step(bool log);
  // The last step's loss, read from the device (a synchronisation); NaN before the first step.
  double last_loss() const;
  // Fault tests: called with the step's number (1-based) after its backward pass, before the
  // finiteness check and the update, so that a test can put a NaN into a gradient at a chosen step.
  void set_before_update(std::function<void(std::int64_t step)> hook) { before_update_ = std::move(hook); }

  // Called with each record once it is written to metrics.jsonl (a training record every
  // run.log_every steps, an evaluation record per epoch); it may throw to stop the run (the
  // Python module's per-step callback).
  std::function<void(const nlohmann::json& record)> on_record;

  ViT& model() { return *model_; }
  std::int64_t step() const { return step_; }
  std::int64_t skipped_steps() const { return skipped_; }
  std::string checkpoint_path() const;
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  std::int64_t total_steps() const { return total_steps_; }
  const DataParallel& data_parallel() const { return *parallel_; }
  // run.cuda_graphs: the captured step (null when off).
  const StepGraph* step_graph() const { return step_graph_.get(); }

 private:
  // `train_seconds`: wall time of the epoch's training steps (evaluation excluded).
  void log_eval(const EvalResult& result, std::int64_t epoch, double train_seconds);
  void save();
  // The stop signal (SIGINT, SIGTERM, SIGHUP) to act on before the next step, the same on every rank.
  int stop_signal();
  std::vector<std::pair<std::string, class InnerLossReporter*>> reporters();

  TrainConfig config_;
  std::unique_ptr<DataParallel> parallel_;
  std::unique_ptr<RunFolder> folder_;  // rank 0's; locked for the trainer's lifetime
  std::unique_ptr<ViT> model_;
  std::unique_ptr<Optimizer> optimizer_;
  Datasets data_;
  std::unique_ptr<data::DeviceBatches> train_batches_;  // data_.train's batches on the model's device, one ahead
  std::unique_ptr<MetricsLog> metrics_;  // rank 0's
  Tensor last_loss_;         // the last step's loss, on the device
  // run.nonfinite = stop: how many watched steps before the last one (watched_step_) the first
  // non-finite loss or norm came, else +inf (float64, device). An age, not the step itself, so
  // that the program updating it has no constant that changes every step (each distinct program
  // is kept in the fusion IR's table, tensor/expr/program.hpp).
  Tensor nonfinite_age_;
  std::int64_t watched_step_ = 0;
  std::int64_t step_ = 0, steps_per_epoch_ = 1, total_steps_ = 1;
  std::int64_t skipped_ = 0;         // steps whose update was skipped as non-finite
  std::int64_t checkpoint_step_ = -1;  // the step of the checkpoint on disk (-1: none yet)
  std::function<void(std::int64_t)> before_update_;
  // Data-parallel records: communication seconds and wall time at the previous train record.
  double logged_communication_ = 0;
  std::chrono::steady_clock::time_point logged_at_ = std::chrono::steady_clock::now();
  std::unique_ptr<StepGraph> step_graph_;  // run.cuda_graphs; before model_ is destroyed (it draws SGD orders)
  // run.nonfinite = stop: keeps the first step whose loss or gradient norm was not finite on the
  // device (nothing is read back), and stops at once on a logged step.
  void watch_nonfinite(const Tensor& loss_sum, bool log);
  // run.nonfinite = stop: throws, naming the first step whose loss or gradient norm was not
  // finite, if there was one (reads one value from the device).
  void stop_if_nonfinite() const;
};

// A model and its config from a checkpoint, for `mttt eval`.
std::unique_ptr<ViT> load_model(const std::string& checkpoint, TrainConfig* config_out,
                                const std::vector<std::string>& overrides = {});
// With `parallel`, `data` is this rank's shard and the sums are taken over the ranks: every rank
// returns the whole split's result.
EvalResult evaluate_model(ViT& model, data::Dataset& data, const TrainConfig& config, DataParallel* parallel = nullptr);

}  // namespace mttt::nn
