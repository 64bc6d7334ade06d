#include "nn/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "nn/inner_loss_reporter.hpp"
#include "nn/loss.hpp"
#include "nn/random_step.hpp"
#include "nn/train/checkpoint.hpp"
#include "nn/train/progress.hpp"
#include "nn/train/step_graph.hpp"
#include "nn/train/stop_signal.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

namespace {

// Streams of per-step randomness: training steps and evaluation passes draw apart.
constexpr std::uint64_t kTrainStream = 0x7261696eULL, kEvalStream = 0x6576616cULL;

std::vector<std::pair<std::string, InnerLossReporter*>> find_reporters(ViT& model) {
  std::vector<std::pair<std::string, InnerLossReporter*>> out;
  for (std::int64_t i = 0; i < model.depth(); ++i)
    if (auto* r = dynamic_cast<InnerLossReporter*>(&model.block(i).layer()))
      out.emplace_back(fmt::format("blocks.{}.layer", i), r);
  return out;
}

// A batch tensor (on the model's device already: data::DeviceBatches) in the model's dtype:
// images and mixup's soft labels (model.dtype = float64 trains on float32 pixels widened).
Tensor in_model_dtype(const Tensor& t, const ViT& model) {
  const DType dtype = model.config().dtype;
  return is_floating(t.dtype()) && t.dtype() != dtype ? cast(t, dtype) : t;
}

}  // namespace

EvalResult evaluate_model(ViT& model, data::Dataset& source, const TrainConfig& config, DataParallel* parallel) {
  NoGrad evaluation;  // TTT layers still take their inner steps (first order)
  RandomStep step(config.run.seed ^ kEvalStream, 0);
  auto reporters = find_reporters(model);
  for (auto& [name, r] : reporters) r->collect_inner_losses(config.run.inner_losses);
  EvalResult result;
  data::DeviceBatches data(source, model.device());
  data.seek(0);
  data::Batch batch;
  double loss_sum = 0;
  std::int64_t correct = 0;
  while (data.next(batch)) {
    if (batch.size() == 0) continue;
    Tensor labels = in_model_dtype(batch.labels, model);
    Tensor logits = model.forward(in_model_dtype(batch.images, model));
    loss_sum += softmax_cross_entropy(logits, labels, {.reduction = Reduction::sum}).item<double>();
    correct += count_correct(logits, labels);
    result.examples += batch.size();
    for (auto& [name, r] : reporters) {
      auto& total = result.inner_losses[name];
      const auto& values = r->inner_losses();
      total.resize(values.size(), 0.0);
      for (std::size_t t = 0; t < values.size(); ++t) total[t] += values[t] * static_cast<double>(batch.size());
    }
  }
  for (auto& [name, r] : reporters) r->collect_inner_losses(false);
  if (parallel && parallel->size() > 1) {
    // The sums over every rank's shard, added in rank order: the same result on every rank. A
    // rank whose shard was empty has no inner losses: it adds zeros.
    std::vector<double> sums = {loss_sum, static_cast<double>(correct), static_cast<double>(result.examples)};
    for (auto& [name, r] : reporters) {
      auto& total = result.inner_losses[name];
      const double longest = -parallel->min(-static_cast<double>(total.size()));  // the ranks' longest list
      total.resize(static_cast<std::size_t>(longest), 0.0);
      sums.insert(sums.end(), total.begin(), total.end());
    }
    sums = parallel->sum(sums);
    loss_sum = sums[0];
    correct = static_cast<std::int64_t>(sums[1]);
    result.examples = static_cast<std::int64_t>(sums[2]);
    std::size_t k = 3;
    for (auto& [name, r] : reporters)
      for (double& v : result.inner_losses[name]) v = sums[k++];
    std::erase_if(result.inner_losses, [](const auto& entry) { return entry.second.empty(); });
  }
  check(result.examples > 0, "eval", "the evaluation split has no examples");
  result.loss = loss_sum / static_cast<double>(result.examples);
  result.accuracy = static_cast<double>(correct) / static_cast<double>(result.examples);
  for (auto& [name, values] : result.inner_losses)
    for (double& v : values) v /= static_cast<double>(result.examples);
  return result;
}

Trainer::Trainer(TrainConfig config, TrainerOptions options)
    : config_(std::move(config)), parallel_(std::make_unique<DataParallel>(options.communicator)) {
  const std::string& resume = options.resume;
  const bool root = parallel_->is_root();
  check(resume.empty() || !options.overwrite, "train", "--resume and --overwrite exclude each other");
  rank_batch_size(config_, parallel_->size());  // a global batch the ranks cannot share is refused first
  // First, before any compute: a folder that cannot be written, is in use, or holds a run that
  // this one would replace unasked is refused now, not after an epoch. Rank 0 alone touches it.
  if (root)
    folder_ = std::make_unique<RunFolder>(config_.run.out, !resume.empty() ? RunFolderMode::resume
                                                           : options.overwrite ? RunFolderMode::overwrite
                                                                               : RunFolderMode::fresh);
  if (root && !folder_->removed_temporaries().empty())
    fmt::print(stderr, "{}: removed {} checkpoint temporar{} left by a killed run ({})\n", config_.run.out,
               folder_->removed_temporaries().size(), folder_->removed_temporaries().size() == 1 ? "y" : "ies",
               fmt::join(folder_->removed_temporaries(), ", "));
  Generator init(config_.run.seed);
  model_ = std::make_unique<ViT>(config_.model, init);
  model_->to_(parallel_->device(config_.run.device));  // before the optimiser takes the parameters
  check(model_->count_parameters().trainable > 0, "train",
        "every parameter of the model is frozen (model.frozen = {}): there is nothing to train",
        config_.json["model"].value("frozen", nlohmann::json::array()).dump());
  data_ = make_datasets(config_, true, parallel_->rank(), parallel_->size());
  train_batches_ = std::make_unique<data::DeviceBatches>(*data_.train, model_->device());
  parallel_->require_same_run(config_, *model_, data_);
  steps_per_epoch_ = (data_.train->num_examples() + config_.run.batch_size - 1) / config_.run.batch_size;
  total_steps_ = steps_per_epoch_ * config_.run.epochs;
  optimizer_ = make_optimizer(config_.optim, model_->named_parameters(), model_->frozen_names(), total_steps_);
  if (config_.run.cuda_graphs) {
    check_step_graph_config(model_->device(), config_.run.nonfinite, "train");
    check_step_graph_ranks(parallel_->size(), parallel_->comm().kind() == "nccl");
    step_graph_ = std::make_unique<StepGraph>(model_->device());
  }
  const std::string metrics_path = (std::filesystem::path(config_.run.out) / "metrics.jsonl").string();
  if (!resume.empty() && root) {
    Checkpoint checkpoint = read_checkpoint(resume);
    check(checkpoint.info.config.contains("model") && checkpoint.info.config["model"] == config_.json["model"], "resume",
          "{}: the checkpoint's model section differs from the config's:\n  checkpoint: {}\n  config:     {}", resume,
          checkpoint.info.config.value("model", nlohmann::json()).dump(), config_.json["model"].dump());
    restore_checkpoint(checkpoint, *model_, optimizer_.get());
    step_ = checkpoint.info.step;
    skipped_ = checkpoint.info.skipped_steps;
    check(step_ - skipped_ == optimizer_->steps(), "resume",
          "{}: step {} ({} skipped) but the optimizer state holds {} updates", resume, step_, skipped_,
          optimizer_->steps());
    // The step and the optimiser's state are global, and the pipelines seek by step: a checkpoint
    // resumes with any number of ranks.
    std::error_code same_error;
    if (std::filesystem::equivalent(resume, checkpoint_path(), same_error)) checkpoint_step_ = step_;
    // The interrupted run may have logged steps past its checkpoint: they are logged again.
    const MetricsRepair repair = repair_metrics(metrics_path, step_);
    if (repair.dropped > 0 || repair.truncated_line)
      fmt::print(stderr, "{}: dropped {} record{} past the checkpoint's step {}{}\n", metrics_path, repair.dropped,
                 repair.dropped == 1 ? "" : "s", step_, repair.truncated_line ? " and a truncated last line" : "");
  }
  // Rank 0 alone read the checkpoint: the others take the state from it, then every rank starts
  // from rank 0's parameters.
  if (!resume.empty()) parallel_->broadcast_training_state(*optimizer_, step_, skipped_);
  parallel_->broadcast_parameters(*model_);
  parallel_->attach(*model_);
  if (root) metrics_ = std::make_unique<MetricsLog>(metrics_path, !resume.empty());
}

std::string Trainer::checkpoint_path() const {
  return (std::filesystem::path(config_.run.out) / "checkpoint.safetensors").string();
}

std::vector<std::pair<std::string, InnerLossReporter*>> Trainer::reporters() { return find_reporters(*model_); }

double Trainer::train_step(bool log) {
  RandomStep random(config_.run.seed ^ kTrainStream, static_cast<std::uint64_t>(step_));
  auto reporters = this->reporters();
  for (auto& [name, r] : reporters) r->collect_inner_losses(log && config_.run.inner_losses);
  data::Batch batch;
  check(train_batches_->next(batch), "train", "the training stream ended");
  const std::int64_t micro = data_.train->batch_size() / config_.run.accumulation;  // this rank's share
  std::map<std::string, std::vector<double>> inner;
  // The forward and backward passes of every micro-batch; the loss stays on the device: read
  // back only when the step is logged, so steps never wait for it.
  auto forward_backward = [&](const Tensor& batch_images, const Tensor& batch_labels) {
    Tensor loss_sum;
    for (std::int64_t a = 0; a < config_.run.accumulation; ++a) {
      Tensor images = config_.run.accumulation == 1 ? batch_images : slice(batch_images, 0, a * micro, (a + 1) * micro);
      Tensor labels = config_.run.accumulation == 1 ? batch_labels : slice(batch_labels, 0, a * micro, (a + 1) * micro);
      images = in_model_dtype(images, *model_);
      labels = in_model_dtype(labels, *model_);
      Tensor loss = softmax_cross_entropy(model_->forward(images), labels, {.label_smoothing = config_.optim.label_smoothing});
      Tensor scaled = loss * (1.0 / static_cast<double>(config_.run.accumulation));
      parallel_->backward(scaled, /*average=*/a + 1 == config_.run.accumulation);
      loss_sum = loss_sum.defined() ? loss_sum + scaled.detach() : scaled.detach();
      for (auto& [name, r] : reporters) {
        if (r->inner_losses().empty()) continue;  // not collected on this step
        auto& total = inner[name];
        total.resize(r->inner_losses().size(), 0.0);
        for (std::size_t t = 0; t < total.size(); ++t)
          total[t] += r->inner_losses()[t] / static_cast<double>(config_.run.accumulation);
      }
    }
    return loss_sum;
  };
  const double lr = optimizer_->effective_lr();
  const bool root = parallel_->is_root();
  Tensor loss_sum;
  if (step_graph_) {
    // run.cuda_graphs (nn/train/step_graph.hpp): the passes and the update as one captured
    // step; the optimiser's scalars for this step cross before it, its count after.
    const bool reads_back = (log && config_.run.inner_losses && !reporters.empty()) || before_update_ != nullptr;
    optimizer_->prepare_step();
    loss_sum = step_graph_->run(batch.images, batch.labels, reads_back, [&](const Tensor& images, const Tensor& labels) {
      Tensor l = forward_backward(images, labels);
      if (before_update_) before_update_(step_ + 1);
      optimizer_->update();
      optimizer_->zero_grad();
      return l;
    });
    optimizer_->finish_step();
  } else {
    loss_sum = forward_backward(batch.images, batch.labels);
    if (before_update_) before_update_(step_ + 1);
  }
  if (step_graph_) {
    watch_nonfinite(loss_sum, log);  // run.cuda_graphs needs run.nonfinite = stop
  } else if (config_.run.nonfinite == "skip") {
    // Decided at once, on the host: the loss and the gradients' norm are read (a synchronisation).
    // The loss is the ranks' mean, so that every rank decides alike.
    loss_sum = parallel_->average(loss_sum);
    const double loss_value = loss_sum.item<double>();
    const bool finite_loss = std::isfinite(loss_value);
    const bool updated = finite_loss && optimizer_->step(/*check_finite=*/true);
    optimizer_->zero_grad();
    if (!updated) {
      for (auto& [name, r] : reporters) r->collect_inner_losses(false);
      const std::string what = !finite_loss ? fmt::format("the loss is {}", loss_value)
                                            : fmt::format("the gradients' global norm is {}", optimizer_->last_grad_norm());
      ++step_;
      ++skipped_;
      if (!root) return loss_value;
      fmt::print(stderr, "\nstep {}: {}; update skipped (run.nonfinite = skip; {} skipped so far)\n", step_, what, skipped_);
      const nlohmann::json record = {{"kind", "skip"}, {"step", step_}, {"reason", what}};
      metrics_->write(record);
      if (on_record) on_record(record);
      return loss_value;
    }
  } else {
    // run.nonfinite = stop: nothing is read back. A non-finite norm applies nothing (decided on
    // the device, Optimizer::step); a non-finite loss has a non-finite gradient. The first such
    // step is kept on the device and read where the run synchronises anyway.
    optimizer_->step();
    optimizer_->zero_grad();
    watch_nonfinite(loss_sum, log);
  }
  ++step_;
  // The logged loss is the ranks' mean (reduced on logged steps only; skip mode reduced it above).
  last_loss_ = log && config_.run.nonfinite != "skip" ? parallel_->average(loss_sum) : loss_sum;
  const double loss_value = log ? last_loss() : std::nan("");
  if (log && parallel_->size() > 1 && !inner.empty()) {  // every rank's inner losses, averaged
    std::vector<double> flat;
    for (const auto& [name, values] : inner) flat.insert(flat.end(), values.begin(), values.end());
    flat = parallel_->sum(flat);
    std::size_t k = 0;
    for (auto& [name, values] : inner)
      for (double& v : values) v = flat[k++] / static_cast<double>(parallel_->size());
  }
  if (log && root) {
    nlohmann::json record = {{"kind", "train"},
                             {"step", step_},
                             {"epoch", static_cast<double>(step_) / static_cast<double>(steps_per_epoch_)},
                             {"loss", loss_value},
                             {"lr", lr},
                             {"grad_norm", optimizer_->last_grad_norm()}};
    if (!inner.empty()) record["inner_losses"] = inner;
    if (parallel_->size() > 1) {
      // Per step since the previous record: wall time, and the time spent in gradient all_reduces
      // that the backward sweep did not hide (rank 0's).
      const auto now = std::chrono::steady_clock::now();
      const std::int64_t steps = (step_ - 1) % config_.run.log_every + 1;
      record["ranks"] = parallel_->size();
      record["step_seconds"] = std::chrono::duration<double>(now - logged_at_).count() / static_cast<double>(steps);
      record["comm_seconds"] = (parallel_->communication_seconds() - logged_communication_) / static_cast<double>(steps);
      record["reduced_bytes"] = parallel_->reduced_bytes_per_step();
      logged_at_ = now;
      logged_communication_ = parallel_->communication_seconds();
    }
    metrics_->write(record);
    if (on_record) on_record(record);
  }
  for (auto& [name, r] : reporters) r->collect_inner_losses(false);
  return loss_value;
}

void Trainer::watch_nonfinite(const Tensor& loss_sum, bool log) {
  Tensor finite = fuse([](Expr l) { return eq(l - l, l.constant(0.0)); }, cast(loss_sum, DType::float64));
  if (Tensor g = optimizer_->grad_norm_finite(); g.defined()) finite = finite * g;
  Tensor age = nonfinite_age_.defined() ? nonfinite_age_ : full({}, INFINITY, {DType::float64, finite.device()});
  nonfinite_age_ = fuse(
      [](Expr ok, Expr a) {
        return where(lt(a, a.constant(INFINITY)), a + 1.0, where(ok, ok.constant(INFINITY), ok.constant(0.0)));
      },
      finite, age);
  watched_step_ = step_ + 1;
  if (log) stop_if_nonfinite();
}

void Trainer::stop_if_nonfinite() const {
  if (!nonfinite_age_.defined()) return;
  const double age = nonfinite_age_.item<double>();
  const double this_rank = std::isinf(age) ? INFINITY : static_cast<double>(watched_step_) - age;
  const double first = parallel_->min(this_rank);  // every rank stops alike
  if (std::isinf(first)) return;
  fail("train",
       "step {}: the loss or the gradients' global norm is not finite (nan or inf); no update was applied from that "
       "step on and the run stops (run.nonfinite = stop). {} Rerun from a checkpoint with --detect-anomaly to name "
       "the operation that produced it, lower optim.lr, or set run.nonfinite=skip to skip such steps",
       static_cast<std::int64_t>(first),
       checkpoint_step_ >= 0 ? fmt::format("{} (step {}) is kept.", checkpoint_path(), checkpoint_step_)
                             : std::string("No checkpoint was written."));
}

double Trainer::last_loss() const { return last_loss_.defined() ? last_loss_.item<double>() : std::nan(""); }

EvalResult Trainer::evaluate() {
  stop_if_nonfinite();
  return evaluate_model(*model_, *data_.eval, config_, parallel_.get());
}

void Trainer::log_eval(const EvalResult& r, std::int64_t epoch, double train_seconds) {
  if (!parallel_->is_root()) return;
  nlohmann::json record = {{"kind", "eval"},  {"step", step_},       {"epoch", epoch},
                           {"loss", r.loss},  {"accuracy", r.accuracy}, {"examples", r.examples},
                           {"train_seconds", train_seconds}};
  if (!r.inner_losses.empty()) record["inner_losses"] = r.inner_losses;
  metrics_->write(record);
  if (on_record) on_record(record);
  std::string inner;
  for (const auto& [name, values] : r.inner_losses)
    inner += fmt::format("\n  {} inner loss: {:.4f}", name, fmt::join(values, " -> "));
  fmt::print("epoch {} (step {}): test loss {:.4f}, top-1 accuracy {:.2f}% on {} images{}\n", epoch, step_, r.loss,
             100 * r.accuracy, r.examples, inner);
  std::fflush(stdout);
}

void Trainer::save() {
  stop_if_nonfinite();
  if (!config_.run.checkpoint) return;
  if (parallel_->is_root())
    save_checkpoint(checkpoint_path(), *model_, optimizer_.get(),
                    {.step = step_, .skipped_steps = skipped_, .config = config_.json, .seed = config_.run.seed});
  checkpoint_step_ = step_;
}

int Trainer::run() {
  const std::int64_t end = config_.run.max_steps > 0 ? std::min(total_steps_, config_.run.max_steps) : total_steps_;
  train_batches_->seek(step_);
  const bool root = parallel_->is_root();
  const auto counts = model_->count_parameters();
  if (root)
    fmt::print("{}: {} parameters ({} trainable) on {}, {} thread{}; {} training images, {} steps of {} per epoch, {} epochs\n",
               config_.model.name(), with_thousands(counts.total), with_thousands(counts.trainable),
               to_string(model_->device()), num_threads(), num_threads() == 1 ? "" : "s", data_.train->num_examples(),
               steps_per_epoch_, config_.run.batch_size, config_.run.epochs);
  if (root && parallel_->size() > 1)
    fmt::print("data-parallel: {} ranks ({}), {} images per rank and step; each step averages {} bytes of gradients in "
               "{} bucket{}\n",
               parallel_->size(), parallel_->comm().kind(), data_.train->batch_size(),
               with_thousands(parallel_->reduced_bytes_per_step()), parallel_->bucket_count(),
               parallel_->bucket_count() == 1 ? "" : "s");
  std::fflush(stdout);
  std::optional<ProgressLine> progress;  // rank 0's
  if (root) progress.emplace("step", end, "img");
  StopSignals signals;
  auto epoch_start = std::chrono::steady_clock::now();
  double last_loss = std::nan("");
  while (step_ < end) {
    if (const int signal = stop_signal()) {
      if (progress) progress->finish();
      save();
      if (root)
        fmt::print(stderr, "{} at step {}: stopped{}\n", signal_name(signal), step_,
                   config_.run.checkpoint
                       ? fmt::format(" after writing {}; continue with --resume {}", checkpoint_path(), checkpoint_path())
                       : std::string(" (run.checkpoint is off: no checkpoint written)"));
      return signal;
    }
    const bool log = (step_ + 1) % config_.run.log_every == 0 || step_ + 1 == end;
    if (const double loss = train_step(log); log) last_loss = loss;
    std::vector<std::pair<std::string, double>> fields = {{"epoch", static_cast<double>(step_) / steps_per_epoch_}};
    if (!std::isnan(last_loss)) fields.emplace_back("loss", last_loss);  // the last logged step's
    if (progress) progress->update(step_, config_.run.batch_size, fields);
    if (step_ % steps_per_epoch_ == 0 || step_ == end) {
      if (progress) progress->finish();
      const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      if (step_ % steps_per_epoch_ == 0) log_eval(evaluate(), step_ / steps_per_epoch_, train_seconds);
      save();
      epoch_start = std::chrono::steady_clock::now();
    }
  }
  if (progress) progress->finish();
  return 0;
}

int Trainer::stop_signal() {
  // Alone: checked every step. Across ranks, agreed where the trainer synchronises anyway (after
  // a logged step, at an epoch's end), so that every rank stops at the same step.
  if (parallel_->size() == 1) return StopSignals::received();
  if (step_ % config_.run.log_every != 0 && step_ % steps_per_epoch_ != 0) return 0;
  return parallel_->agree_signal(StopSignals::received());
}

std::unique_ptr<ViT> load_model(const std::string& path, TrainConfig* config_out, const std::vector<std::string>& overrides) {
  Checkpoint checkpoint = read_checkpoint(path);
  TrainConfig config = parse_train_config(upgrade_checkpoint_config(checkpoint.info.config), overrides, path + " (config)");
  Generator init(config.run.seed);
  auto model = std::make_unique<ViT>(config.model, init);
  model->to_(parse_device(config.run.device));
  restore_checkpoint(checkpoint, *model, nullptr);
  if (config_out) *config_out = config;
  return model;
}

}  // namespace mttt::nn
