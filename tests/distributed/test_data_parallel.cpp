// Data-parallel training (nn/train/data_parallel.hpp) against a process alone: on the ranks of
// the world (2 under tests/distributed/run_data_parallel.sh, 1 when run by itself) a ViT with
// MTTT-MLP T = 4 SGD trains 24 steps of a global batch of 16 and must log the losses and end with
// the weights of the same run in one process; a run stopped on the ranks and resumed alone (and
// the reverse) must match the run never stopped; evaluation must give the same accuracy; a rank
// given another config, or a batch the ranks cannot share, is refused at start; a stop signal or
// a non-finite gradient on one rank stops them all at one step.
//
// Tolerance: with one rank the runs must be identical bit for bit. With two, the gradient is the
// mean of two half-batch means instead of one whole-batch mean: another floating-point sum, so
// bits differ. The model trains in float64 so that the tolerance (1e-10 relative) stays far below
// anything a wrong share of the batch, a wrong SGD token order or a missed average would make
// (differences of 1e-3 and more).
#include <catch2/catch.hpp>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>

#include <unistd.h>

#include "mttt/ttt_mixer.hpp"
#include "nn/train/checkpoint.hpp"
#include "nn/train/metrics_log.hpp"
#include "nn/train/trainer.hpp"
#include "tensor/tensor.hpp"
#include "tests/distributed/world.hpp"
#include "tests/support.hpp"

using namespace mttt;
using namespace mttt::nn;
namespace fs = std::filesystem;

using test::world;

namespace {

constexpr double kTolerance = 1e-10;  // relative, float64 (see the header)

std::shared_ptr<distributed::Communicator> shared_world() {
  return {&world(), [](distributed::Communicator*) {}};
}

// One folder for the job, named by rank 0 (its pid), the same path on every rank.
std::string job_dir(const std::string& name) {
  static const std::string base = [] {
    const std::string mine = (fs::temp_directory_path() / ("mttt_data_parallel_" + std::to_string(::getpid()))).string();
    return world().all_gather(mine)[0];
  }();
  const std::string dir = base + "/" + name;
  if (world().rank() == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  world().barrier();
  return dir;
}

TrainConfig tiny(const std::string& out, std::vector<std::string> overrides = {}) {
  nlohmann::json c = {
      {"model",
       {{"variant", "custom"}, {"width", 32}, {"depth", 2}, {"heads", 2}, {"mlp_dim", 64}, {"patch", 7}, {"image", 28},
        {"channels", 1}, {"classes", 10}, {"dtype", "float64"},
        {"layer", {{"kind", "mttt_mlp"}, {"steps", 4}, {"sgd", true}}}}},
      {"data", {{"dataset", "fashion_mnist"}, {"train_subset", 64}, {"test_subset", 50}, {"threads", 1}}},
      {"optim", {{"optimizer", "adamw"}, {"lr", 0.003}, {"schedule", "cosine"}, {"warmup_steps", 4}, {"weight_decay", 0.01}}},
      // 4 steps an epoch, an evaluation of 50 images in batches of 20 (the last shard of the last
      // batch empty on 2 ranks)
      {"run", {{"seed", 3}, {"epochs", 6}, {"batch_size", 16}, {"eval_batch_size", 20}, {"log_every", 1}, {"out", out}}}};
  return parse_train_config(c, overrides, "test");
}

// Trains (on the world's ranks, or alone) and returns the final parameters.
NamedTensors train(const TrainConfig& config, bool alone, const std::string& resume = "") {
  Trainer trainer(config, TrainerOptions{.resume = resume, .overwrite = false,
                                         .communicator = alone ? nullptr : shared_world()});
  trainer.run();
  if (!alone) world().barrier();  // rank 0 may still be writing the last checkpoint
  NamedTensors out;
  for (auto& [name, p] : trainer.model().named_parameters()) out.emplace_back(name, contiguous(p.detach()));
  return out;
}

std::vector<nlohmann::json> records(const std::string& out, const std::string& kind) {
  std::vector<nlohmann::json> r;
  for (const auto& record : read_metrics(out + "/metrics.jsonl"))
    if (record["kind"] == kind) r.push_back(record);
  return r;
}

double relative(double a, double b) { return std::abs(a - b) / std::max(1e-300, std::max(std::abs(a), std::abs(b))); }

// The same losses step by step, and the same accuracy at each evaluation; bit for bit when
// `exact`.
void require_same_log(const std::string& out, const std::string& reference, bool exact) {
  const auto train = records(out, "train"), want = records(reference, "train");
  REQUIRE(train.size() == want.size());
  for (std::size_t i = 0; i < train.size(); ++i) {
    CAPTURE(i, train[i].dump(), want[i].dump());
    REQUIRE(train[i]["step"] == want[i]["step"]);
    if (exact)
      CHECK(train[i]["loss"].get<double>() == want[i]["loss"].get<double>());
    else
      CHECK(relative(train[i]["loss"].get<double>(), want[i]["loss"].get<double>()) < kTolerance);
  }
  const auto eval = records(out, "eval"), want_eval = records(reference, "eval");
  REQUIRE(eval.size() == want_eval.size());
  for (std::size_t i = 0; i < eval.size(); ++i) {
    CAPTURE(i);
    CHECK(eval[i]["accuracy"] == want_eval[i]["accuracy"]);
    CHECK(eval[i]["examples"] == want_eval[i]["examples"]);
    CHECK(relative(eval[i]["loss"].get<double>(), want_eval[i]["loss"].get<double>()) < kTolerance);
  }
}

void require_same_weights(const NamedTensors& a, const NamedTensors& b, bool exact) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    REQUIRE(a[i].first == b[i].first);
    const double scale = max(abs(b[i].second)).item<double>() + 1e-300;
    const double diff = max(abs(a[i].second - b[i].second)).item<double>();
    if (exact)
      CHECK(diff == 0);
    else
      CHECK(diff / scale < kTolerance);
  }
}

// The parameters' bytes, compared across the ranks: every rank must hold the same bits.
void require_same_on_every_rank(const NamedTensors& params) {
  std::string bytes;
  for (const auto& [name, t] : params) {
    const auto v = t.to_vector<double>();
    bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
  }
  for (const std::string& other : world().all_gather(bytes)) CHECK(other == bytes);
}

}  // namespace

TEST_CASE("data-parallel training logs the losses and ends with the weights of a process alone") {
  test::require_fashion_mnist();
  ttt::register_ttt_mixers();
  const bool exact = world().size() == 1;
  // The reference alone, on rank 0 (rank 1 meanwhile trains the first half alone, for the next test).
  const std::string alone = job_dir("alone"), ranks = job_dir("ranks");
  NamedTensors reference;
  if (world().rank() == 0) reference = train(tiny(alone), true);
  world().barrier();
  const NamedTensors trained = train(tiny(ranks), false);
  require_same_on_every_rank(trained);
  if (world().rank() == 0) {
    require_same_log(ranks, alone, exact);
    require_same_weights(trained, reference, exact);
    if (world().size() > 1) {
      const auto first = records(ranks, "train").front();
      CHECK(first["ranks"] == world().size());
      CHECK(first["reduced_bytes"].get<std::int64_t>() > 0);
      CHECK(first["comm_seconds"].get<double>() >= 0);
    }
  }
  // Rank 0 alone wrote the run folder; a checkpoint it wrote loads.
  CHECK(fs::exists(ranks + "/checkpoint.safetensors"));
  TrainConfig loaded;
  auto model = load_model(ranks + "/checkpoint.safetensors", &loaded);
  require_same_weights(model->named_parameters(), trained, true);
}

TEST_CASE("a run stopped on the ranks and resumed alone, or the reverse, matches a run never stopped") {
  test::require_fashion_mnist();
  ttt::register_ttt_mixers();
  const bool exact = world().size() == 1;
  const std::string alone = job_dir("never_stopped"), ranks_first = job_dir("ranks_first"),
                    alone_first = job_dir("alone_first");
  // Rank 0 trains the reference; the last rank trains the first half of the reverse alone.
  NamedTensors reference;
  if (world().rank() == 0) reference = train(tiny(alone), true);
  if (world().rank() == world().size() - 1) train(tiny(alone_first, {"run.max_steps=12"}), true);
  world().barrier();
  // Stopped on the ranks after 12 steps (3 epochs), resumed alone.
  train(tiny(ranks_first, {"run.max_steps=12"}), false);
  NamedTensors resumed_alone;
  if (world().rank() == 0)
    resumed_alone = train(tiny(ranks_first), true, ranks_first + "/checkpoint.safetensors");
  world().barrier();
  // Stopped alone, resumed on the ranks (rank 0 alone reads the checkpoint).
  const NamedTensors resumed_ranks = train(tiny(alone_first), false, alone_first + "/checkpoint.safetensors");
  require_same_on_every_rank(resumed_ranks);
  if (world().rank() == 0) {
    require_same_log(ranks_first, alone, exact);
    require_same_weights(resumed_alone, reference, exact);
    require_same_log(alone_first, alone, exact);
    require_same_weights(resumed_ranks, reference, exact);
  }
}

TEST_CASE("evaluation on the ranks gives the accuracy of a process alone") {
  test::require_fashion_mnist();
  ttt::register_ttt_mixers();
  // A trained model, the same on every rank, scored on uneven shards (50 images, 20 a batch).
  const std::string out = job_dir("eval");
  train(tiny(out, {"run.max_steps=8"}), false);
  TrainConfig config;
  auto model = load_model(out + "/checkpoint.safetensors", &config);
  for (std::int64_t batch : {20, 7, 50}) {
    CAPTURE(batch);
    config.run.eval_batch_size = batch;
    Datasets whole = make_datasets(config, false);
    const EvalResult want = evaluate_model(*model, *whole.eval, config);
    DataParallel parallel(shared_world());
    Datasets shard = make_datasets(config, false, world().rank(), world().size());
    const EvalResult got = evaluate_model(*model, *shard.eval, config, &parallel);
    CHECK(got.examples == 50);
    CHECK(got.accuracy == want.accuracy);
    CHECK(relative(got.loss, want.loss) < 1e-12);
    REQUIRE(got.inner_losses.size() == want.inner_losses.size());
    for (const auto& [name, values] : want.inner_losses) {
      REQUIRE(got.inner_losses.at(name).size() == values.size());
      for (std::size_t t = 0; t < values.size(); ++t) CHECK(relative(got.inner_losses.at(name)[t], values[t]) < 1e-12);
    }
  }
}

TEST_CASE("a global batch the ranks cannot share, or a rank given another config, is refused at start") {
  test::require_fashion_mnist();
  ttt::register_ttt_mixers();
  const std::string out = job_dir("refused");
  const int ranks = world().size();
  if (ranks > 1) {
    const std::string batch = "run.batch_size=" + std::to_string(16 * ranks + 1);
    REQUIRE_THROWS_WITH(Trainer(tiny(out, {batch}), TrainerOptions{.resume = "", .communicator = shared_world()}),
                        Catch::Contains(fmt::format("run.batch_size {} (the global batch) does not divide among {} ranks",
                                                    16 * ranks + 1, ranks)));
    world().barrier();
    // Each rank's micro-batches too: 32 / ranks rows a rank do not split into 32 micro-batches.
    REQUIRE_THROWS_WITH(Trainer(tiny(out, {"run.batch_size=32", "run.accumulation=32"}),
                                TrainerOptions{.resume = "", .communicator = shared_world()}),
                        Catch::Contains("which do not split into run.accumulation 32 equal micro-batches"));
    world().barrier();
  }
  // The last rank's learning rate differs: every rank refuses, naming it.
  std::vector<std::string> overrides;
  if (world().rank() == ranks - 1 && ranks > 1) overrides.push_back("optim.lr=0.1");
  if (ranks > 1) {
    REQUIRE_THROWS_WITH(Trainer(tiny(out, overrides), TrainerOptions{.resume = "", .overwrite = true, .communicator = shared_world()}),
                        Catch::Contains("the ranks disagree on the config") &&
                            Catch::Contains(fmt::format("rank {} has", ranks - 1)));
    world().barrier();
  }
  // Keys that may differ per rank do not count.
  std::vector<std::string> per_rank = {"data.threads=" + std::to_string(1 + world().rank())};
  CHECK_NOTHROW(Trainer(tiny(out, per_rank), TrainerOptions{.resume = "", .overwrite = true, .communicator = shared_world()}));
}

TEST_CASE("a stop signal on one rank stops every rank at the same step, with a checkpoint") {
  test::require_fashion_mnist();
  ttt::register_ttt_mixers();
  const std::string out = job_dir("signal");
  Trainer trainer(tiny(out, {"run.log_every=2"}), TrainerOptions{.resume = "", .communicator = shared_world()});
  // SIGINT inside step 7 on the last rank alone. Alone, the run stops after step 7; across ranks
  // the ranks agree on it after the next logged step, 8.
  if (world().rank() == world().size() - 1)
    trainer.set_before_update([](std::int64_t step) {
      if (step == 7) std::raise(SIGINT);
    });
  const std::int64_t expected = world().size() == 1 ? 7 : 8;
  CHECK(trainer.run() == SIGINT);
  CHECK(trainer.step() == expected);
  world().barrier();
  CHECK(read_checkpoint(out + "/checkpoint.safetensors").info.step == expected);
}

TEST_CASE("a non-finite gradient on one rank stops every rank, naming the step") {
  test::require_fashion_mnist();
  ttt::register_ttt_mixers();
  const std::string out = job_dir("nonfinite");
  // log_every 3: the flag is read at steps 3 and 6; the NaN comes at step 5 on the last rank
  // alone (after the average, which the others therefore do not see: only the agreement can stop
  // them).
  Trainer trainer(tiny(out, {"run.log_every=3"}), TrainerOptions{.resume = "", .communicator = shared_world()});
  if (world().rank() == world().size() - 1)
    trainer.set_before_update([&trainer](std::int64_t step) {
      if (step != 5) return;
      for (const auto& [name, p] : trainer.model().named_parameters())
        if (p.grad().defined()) {
          fill_(p.grad(), std::numeric_limits<double>::quiet_NaN());
          return;
        }
    });
  REQUIRE_THROWS_WITH(trainer.run(), Catch::Contains("step 5: the loss or the gradients' global norm is not finite") &&
                                         Catch::Contains("(step 4) is kept"));
  CHECK(trainer.step() == 5);  // every rank stopped inside step 6, the first logged step after it
}

// Run by run_data_parallel.sh alone (hidden): the last rank raises at step 6, after the checkpoint
// of step 4; the job must end within seconds naming it, and the checkpoint stay loadable.
TEST_CASE("a rank that raises mid-training ends the job", "[.raise]") {
  test::require_fashion_mnist();
  ttt::register_ttt_mixers();
  const std::string out = job_dir("raise");
  std::printf("checkpoint: %s/checkpoint.safetensors\n", out.c_str());
  std::fflush(stdout);
  end_job_on_error(world(), [&] {
    Trainer trainer(tiny(out), TrainerOptions{.resume = "", .communicator = shared_world()});
    if (world().rank() == world().size() - 1)
      trainer.set_before_update([](std::int64_t step) {
        if (step == 6) fail("test", "step {}: an error on this rank alone", step);
      });
    trainer.run();
  });
}
