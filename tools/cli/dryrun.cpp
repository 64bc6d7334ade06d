// `mttt dryrun --config FILE --data ROOT [--set key=value]... [--steps N] [--micro-batch B] [--image S] [--device D]
//  [--ranks N]`:
// a real configuration (ImageNet, batch 1024, 90 epochs) tried on this machine before anyone
// commits a GPU week to it. Builds the model and prints its parameter counts; then runs a few
// training steps on a small folder in ImageNet's layout (`root/train/<class>/*.JPEG` and
// `root/val/<class>/*.JPEG`, which the trainer opens too), at two
// micro-batch sizes, and projects the time per epoch (1,281,167 images) and the memory of the
// configured micro-batch from what it measured. For data-parallel training on N ranks it prints
// each rank's share of the batch and the gradient bytes each step averages across the ranks.
//
// The projection is linear in the batch (activations) and, with --image smaller than the
// model's, in the number of tokens: true for linear attention and the TTT layers, an
// underestimate for self-attention, whose attention matrices grow with N^2 (the program says so).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <unistd.h>

#include <fmt/format.h>

#include "nn/distributed/gradient_buckets.hpp"
#include "nn/train/data_parallel.hpp"
#include "nn/train/trainer.hpp"
#include "tensor/distributed/communicator.hpp"
#include "nn/vit.hpp"
#include "tensor/tensor.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

namespace {

constexpr double kImageNetTrainImages = 1281167;

struct DryRunArgs {
  std::string config, data;
  std::vector<std::string> overrides;
  std::string device;
  int steps = 3;
  std::int64_t micro_batch = 2, image = 0;
  int ranks = 0;  // 0: the MPI world's size (1 outside mpirun)
};

struct Trial {
  double seconds_per_step = 0;
  std::int64_t peak_bytes = 0;  // the step's peak beyond what was live before it
  std::int64_t resident_bytes = 0;  // live before a step: parameters and optimiser state
};

// Trains `steps` updates of `micro` images each (after one untimed step) on the dry-run folder.
Trial try_steps(nn::TrainConfig config, const DryRunArgs& args, std::int64_t micro, const std::string& out) {
  config.data.root = args.data;
  config.data.dataset = "image_folder";
  config.run.batch_size = micro;
  config.run.accumulation = 1;
  config.run.out = out;
  config.run.checkpoint = false;
  config.run.inner_losses = false;
  if (args.image > 0) config.model.image_height = config.model.image_width = args.image;
  // The small folder has a few classes, not ImageNet's 1,000: a head that small changes nothing measurable.
  std::int64_t classes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(args.data) / "train"))
    classes += entry.is_directory();
  config.model.classes = classes;
  nn::Trainer trainer(config, nn::TrainerOptions{.resume = "", .overwrite = true});  // the second trial reuses the folder
  const Device device = trainer.model().device();
  trainer.train_step(false);
  Trial trial;
  std::vector<double> seconds;
  for (int i = 0; i < args.steps; ++i) {
    const std::int64_t before = memory_stats(device).bytes_in_use;
    reset_peak_memory(device);
    const auto start = std::chrono::steady_clock::now();
    trainer.train_step(false);
    synchronize(current_stream(device));  // a step queues its work on a GPU without waiting for it
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    trial.peak_bytes = std::max(trial.peak_bytes, memory_stats(device).peak_bytes_in_use - before);
    trial.resident_bytes = before;
  }
  std::sort(seconds.begin(), seconds.end());
  trial.seconds_per_step = seconds[seconds.size() / 2];
  return trial;
}

std::string gib(double bytes) { return fmt::format("{:.2f} GiB", bytes / double(1 << 30)); }

std::string duration(double seconds) {
  if (seconds < 120) return fmt::format("{:.0f} s", seconds);
  if (seconds < 7200) return fmt::format("{:.1f} min", seconds / 60);
  if (seconds < 172800) return fmt::format("{:.1f} h", seconds / 3600);
  return fmt::format("{:.1f} days", seconds / 86400);
}

void dry_run(const DryRunArgs& args) {
  std::vector<std::string> overrides = args.overrides;
  if (!args.device.empty()) overrides.push_back(fmt::format("run.device=\"{}\"", args.device));
  const nn::TrainConfig config = nn::load_train_config(args.config, overrides);
  for (const char* split : {"train", "val"})
    check(std::filesystem::is_directory(std::filesystem::path(args.data) / split), "dryrun",
          "{}: expected an ImageNet-layout folder with train/<class>/*.JPEG and val/<class>/*.JPEG; there is no {}/",
          args.data, split);
  check(args.micro_batch >= 1 && args.steps >= 1, "dryrun", "--micro-batch and --steps must be positive");

  // The real model: its parameter counts.
  Generator init(config.run.seed);
  nn::ViT model(config.model, init);
  const auto counts = model.count_parameters();
  std::int64_t position = 0;
  for (const auto& [name, t] : model.named_parameters())
    if (name == "pos_embedding") position = t.numel();
  const std::int64_t micro = config.run.batch_size / config.run.accumulation;
  fmt::print("{} with {} ({} tokens): {} parameters ({} trainable, {} frozen); without pos_embedding {}\n",
             config.model.name(), config.model.layer, config.model.tokens(), nn::with_thousands(counts.total),
             nn::with_thousands(counts.trainable), nn::with_thousands(counts.frozen),
             nn::with_thousands(counts.total - position));
  fmt::print("recipe: batch {} ({} micro-batch(es) of {}), {} epochs, {} steps per epoch on ImageNet's {:.0f} images\n",
             config.run.batch_size, config.run.accumulation, micro, config.run.epochs,
             static_cast<std::int64_t>(std::ceil(kImageNetTrainImages / static_cast<double>(config.run.batch_size))),
             kImageNetTrainImages);

  // Data-parallel: each rank's share and what a step averages (the buckets nn/train/data_parallel uses).
  const int ranks = args.ranks > 0 ? args.ranks : distributed::default_communicator()->size();
  const std::int64_t rank_batch = nn::rank_batch_size(config, ranks);
  std::vector<Tensor> trainable;
  for (const auto& [name, t] : model.named_parameters())
    if (t.requires_grad()) trainable.push_back(t);
  auto alone = distributed::single_process();
  const nn::GradientBuckets buckets(trainable, *alone);
  fmt::print("data-parallel: {} rank{}, {} images per rank and step ({} micro-batch(es) of {}); each step averages "
             "{} bytes of gradients across the ranks in {} bucket{}{}\n",
             ranks, ranks == 1 ? "" : "s", rank_batch, config.run.accumulation, rank_batch / config.run.accumulation,
             nn::with_thousands(buckets.bytes_per_step()), buckets.buckets().size(),
             buckets.buckets().size() == 1 ? "" : "s", ranks == 1 ? " (nothing is sent with one rank)" : "");

  // Trials at two micro-batch sizes: time per image, and activation bytes per image.
  const std::int64_t trial_tokens =
      args.image > 0 ? (args.image / config.model.patch) * (args.image / config.model.patch) : config.model.tokens();
  const double token_factor = static_cast<double>(config.model.tokens()) / static_cast<double>(trial_tokens);
  const auto out = std::filesystem::temp_directory_path() / fmt::format("mttt_dryrun_{}", ::getpid());
  fmt::print("trying {} steps at micro-batches {} and {} on {}{} ...\n", args.steps, args.micro_batch,
             2 * args.micro_batch, args.data,
             args.image > 0 ? fmt::format(", images {}x{} ({} tokens)", args.image, args.image, trial_tokens) : "");
  std::fflush(stdout);
  struct RemoveOnExit {  // the folder goes on an error too
    std::filesystem::path path;
    ~RemoveOnExit() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } scratch{out};
  const Trial one = try_steps(config, args, args.micro_batch, out.string());
  const Trial two = try_steps(config, args, 2 * args.micro_batch, out.string());
  const double per_image_seconds = two.seconds_per_step / static_cast<double>(2 * args.micro_batch) * token_factor;
  const double per_image_bytes =
      std::max(0.0, static_cast<double>(two.peak_bytes - one.peak_bytes) / static_cast<double>(args.micro_batch)) *
      token_factor;
  const double fixed_bytes = static_cast<double>(two.resident_bytes);
  fmt::print("measured: {:.3f} s per step of {} images, {:.3f} s of {}; step peak {} and {} above {} resident\n",
             one.seconds_per_step, args.micro_batch, two.seconds_per_step, 2 * args.micro_batch, gib(one.peak_bytes),
             gib(two.peak_bytes), gib(fixed_bytes));
  const double epoch_seconds = per_image_seconds * kImageNetTrainImages;
  const Device device = parse_device(config.run.device);
  fmt::print("projected on {}{}: {} per epoch, {} for {} epochs\n", to_string(device),
             device.type == DeviceType::cuda ? "" : fmt::format(" ({} threads)", num_threads()),
             duration(epoch_seconds), duration(epoch_seconds * config.run.epochs), config.run.epochs);
  fmt::print("projected memory: {} for a micro-batch of {} ({} per image of activations{}, plus {} of parameters "
             "and optimiser state)\n",
             gib(fixed_bytes + per_image_bytes * static_cast<double>(micro)), micro, gib(per_image_bytes),
             args.image > 0 ? fmt::format(", scaled by {:.0f}x the tokens", token_factor) : "", gib(fixed_bytes));
  if (args.image > 0 && config.model.layer == "self_attention")
    fmt::print("note: self-attention's memory and time grow with the square of the tokens; the projection above, "
               "linear in the tokens, is an underestimate\n");
}

}  // namespace

void add_dryrun_command(CLI::App& app) {
  auto args = std::make_shared<DryRunArgs>();
  auto* cmd = app.add_subcommand("dryrun", "try a real (ImageNet) config on a small folder: parameter counts, projected "
                                           "time per epoch and memory on this device");
  cmd->add_option("--config", args->config, "the real config (examples/imagenet/*.json)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--data", args->data, "a small folder in ImageNet's layout (train/<class>/*.JPEG, val/<class>/*.JPEG)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--set", args->overrides, "override a config key (repeatable)");
  cmd->add_option("--device", args->device, "cpu, thrust-host, cuda or cuda:N (run.device)");
  cmd->add_option("--steps", args->steps, "timed steps per trial")->check(count_range());
  cmd->add_option("--micro-batch", args->micro_batch, "images per step of the first trial (the second takes twice as many)")
      ->check(count_range());
  cmd->add_option("--image", args->image,
                  "run the trials at this image size and scale by the tokens (for models that do not fit here)")
      ->check(count_range());
  cmd->add_option("--ranks", args->ranks, "data-parallel ranks to plan for (default: the MPI world's size, 1 outside mpirun)")
      ->check(count_range());
  cmd->callback([args] { dry_run(*args); });
}

}  // namespace mttt::cli
