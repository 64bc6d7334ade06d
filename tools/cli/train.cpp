// `mttt train --config FILE [--set key=value]... [--resume CKPT | --overwrite] [--device D] [--seed S]
//  [--detect-anomaly]`: exits 0 at the end, 1 on an error, 128 + the signal when SIGINT, SIGTERM or
//  SIGHUP stopped it (after a checkpoint). Under `mpirun -np N` (or srun) the N ranks train
//  data-parallel (docs/distributed.md); an error on any rank ends the whole job, naming the rank.
// `mttt eval --checkpoint CKPT [--data ROOT] [--set key=value]... [--device D]`
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "autodiff/grad_mode.hpp"

#include "nn/train/data_parallel.hpp"
#include "nn/train/data_setup.hpp"
#include "nn/train/trainer.hpp"
#include "tensor/distributed/communicator.hpp"
#include "tensor/device.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

namespace {

struct TrainArgs {
  std::string config, resume, device;
  std::vector<std::string> overrides;
  std::string seed;  // as written: run.seed's reader checks it
  bool overwrite = false, detect_anomaly = false;
};

// --device D is run.device (docs/config.md); the device's backend must be in this build.
void add_device(const std::string& name, std::vector<std::string>& overrides) {
  if (name.empty()) return;
  require_device(parse_device(name));  // throws, saying how to build it, for a device this build lacks
  overrides.push_back(fmt::format("run.device=\"{}\"", name));
}

constexpr const char* kDeviceHelp = "cpu, thrust-host, cuda or cuda:N (run.device; default: the config's, cpu)";

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* train = app.add_subcommand("train", "train a ViT (any drop-in layer, TTT layers included) from a JSON config");
  train->add_option("--config", args->config, "JSON config (docs/config.md)")->required()->check(CLI::ExistingFile);
  train->add_option("--set", args->overrides, "override a config key: --set optim.lr=0.0005 (repeatable)");
  // Checked by rank 0 alone, which alone reads it (the other ranks' machines need not have it).
  train->add_option("--resume", args->resume, "continue from a checkpoint written by a run of the same model");
  train->add_option("--device", args->device, kDeviceHelp);
  train->add_flag("--overwrite", args->overwrite, "start afresh in a run.out that holds a previous run (its metrics and checkpoint go)")
      ->excludes("--resume");
  train->add_option("--seed", args->seed, "shorthand for --set run.seed=S");
  train->add_flag("--detect-anomaly", args->detect_anomaly,
                  "check every operation's output and every gradient for NaN/Inf, naming the first operation that made one (slow)");
  train->callback([args, &app] {
    auto overrides = args->overrides;
    add_device(args->device, overrides);
    if (!args->seed.empty()) overrides.push_back("run.seed=" + args->seed);
    int signal = 0;
    std::shared_ptr<distributed::Communicator> comm = distributed::default_communicator();
    // Ranks sharing a machine share its cores, unless told otherwise (--threads, MTTT_NUM_THREADS).
    if (comm->size() > 1 && app.get_option("--threads")->count() == 0 && !std::getenv("MTTT_NUM_THREADS")) {
      const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      set_num_threads(std::max(1, cores / nn::ranks_on_this_machine(comm->size())));
    }
    nn::end_job_on_error(*comm, [&] {
      check(args->resume.empty() || comm->rank() != 0 || std::filesystem::is_regular_file(args->resume), "train",
            "--resume {}: no such file", args->resume);
      nn::Trainer trainer(nn::load_train_config(args->config, overrides),
                          nn::TrainerOptions{.resume = args->resume, .overwrite = args->overwrite, .communicator = comm});
      std::optional<autodiff::DetectAnomaly> anomaly;
      if (args->detect_anomaly) anomaly.emplace();
      signal = trainer.run();
    });  // the run folder's lock is released here
    if (signal != 0) std::exit(128 + signal);
  });

  auto eval_args = std::make_shared<TrainArgs>();
  auto* eval = app.add_subcommand("eval", "score a checkpoint on its evaluation split");
  eval->add_option("--checkpoint", eval_args->resume, "checkpoint written by mttt train")->required()->check(CLI::ExistingFile);
  eval->add_option("--data", eval_args->config, "data root (default: the one the run used)");
  eval->add_option("--set", eval_args->overrides, "override a config key of the run (data.*, run.eval_batch_size, ...)");
  eval->add_option("--device", eval_args->device, kDeviceHelp);
  eval->callback([eval_args] {
    auto overrides = eval_args->overrides;
    add_device(eval_args->device, overrides);
    if (!eval_args->config.empty()) overrides.push_back("data.root=" + eval_args->config);
    nn::TrainConfig config;
    auto model = nn::load_model(eval_args->resume, &config, overrides);
    nn::Datasets data = nn::make_datasets(config, false);
    nn::EvalResult r = nn::evaluate_model(*model, *data.eval, config);
    fmt::print("{}: top-1 accuracy {:.2f}% ({} images), loss {:.4f}\n", eval_args->resume, 100 * r.accuracy, r.examples,
               r.loss);
    for (const auto& [name, values] : r.inner_losses)
      fmt::print("  {} inner loss: {:.4f}\n", name, fmt::join(values, " -> "));
  });
}

}  // namespace mttt::cli
