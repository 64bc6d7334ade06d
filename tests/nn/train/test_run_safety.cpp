// No run is lost or corrupted (docs/reliability.md): the run folder's lock and its refusal to
// replace a previous run, stale temporaries, NaN and Inf (stop and skip), a signal's stop at a
// step boundary, and the repair of metrics on resume. Skips (exit 77) without Debian's
// dataset-fashion-mnist.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "nn/data/fashion_mnist.hpp"
#include "nn/data/jpeg.hpp"
#include "nn/train/checkpoint.hpp"
#include "nn/train/metrics_log.hpp"
#include "nn/train/trainer.hpp"
#include "tensor/tensor.hpp"
#include "tests/support.hpp"

using namespace mttt;
using namespace mttt::nn;
namespace fs = std::filesystem;

namespace {

void require_data() { test::require_fashion_mnist(); }

std::string fresh_dir(const std::string& name) { return test::fresh_dir("run_safety", name); }

// 10 steps of 20 images an epoch, two epochs: a second or two.
TrainConfig tiny(const std::string& out, const std::vector<std::string>& overrides = {}) {
  nlohmann::json c = {
      {"model",
       {{"variant", "custom"}, {"width", 16}, {"depth", 1}, {"heads", 2}, {"mlp_dim", 32}, {"patch", 7}, {"image", 28},
        {"channels", 1}, {"classes", 10}, {"layer", "self_attention"}}},
      {"data", {{"dataset", "fashion_mnist"}, {"train_subset", 200}, {"test_subset", 100}}},
      {"optim", {{"optimizer", "adam"}, {"lr", 0.003}, {"schedule", "constant"}, {"weight_decay", 0}}},
      {"run", {{"seed", 0}, {"epochs", 2}, {"batch_size", 20}, {"eval_batch_size", 100}, {"log_every", 1}, {"out", out}}}};
  return parse_train_config(c, overrides, "test");
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::int64_t> logged_steps(const std::string& out, const char* kind = "train") {
  std::vector<std::int64_t> steps;
  for (const auto& r : read_metrics(out + "/metrics.jsonl"))
    if (r["kind"] == kind) steps.push_back(r["step"].get<std::int64_t>());
  return steps;
}

std::vector<double> train_losses(const std::string& out) {
  std::vector<double> losses;
  for (const auto& r : read_metrics(out + "/metrics.jsonl"))
    if (r["kind"] == "train") losses.push_back(r["loss"].get<double>());
  return losses;
}

void poison_a_gradient(Trainer& trainer) {
  for (const auto& [name, p] : trainer.model().named_parameters())
    if (p.grad().defined()) {
      fill_(p.grad(), std::numeric_limits<double>::quiet_NaN());
      return;
    }
  FAIL("no parameter has a gradient");
}

}  // namespace

TEST_CASE("a run folder holding a previous run is refused unless resumed or overwritten") {
  require_data();
  set_num_threads(2);
  const std::string out = fresh_dir("refuse");
  Trainer(tiny(out, {"run.max_steps=3"})).run();
  const std::string metrics = bytes_of(out + "/metrics.jsonl"), checkpoint = bytes_of(out + "/checkpoint.safetensors");
  REQUIRE_THROWS_WITH(Trainer(tiny(out)), Catch::Contains(out) && Catch::Contains("previous run") &&
                                              Catch::Contains("--resume") && Catch::Contains("--overwrite"));
  CHECK(bytes_of(out + "/metrics.jsonl") == metrics);  // nothing touched
  CHECK(bytes_of(out + "/checkpoint.safetensors") == checkpoint);
  REQUIRE_THROWS_WITH(Trainer(tiny(out), TrainerOptions{.resume = out + "/checkpoint.safetensors", .overwrite = true}),
                      Catch::Contains("exclude"));
  {
    Trainer over(tiny(out, {"run.max_steps=2"}), TrainerOptions{.resume = "", .overwrite = true});
    CHECK_FALSE(fs::exists(out + "/checkpoint.safetensors"));  // the old run's checkpoint went with its metrics
    over.run();
  }
  CHECK(logged_steps(out) == std::vector<std::int64_t>{1, 2});
  REQUIRE_THROWS_WITH(Trainer(tiny("")), Catch::Contains("run.out is empty"));
}

TEST_CASE("a second training on a locked run folder is refused naming the holder's pid") {
  require_data();
  set_num_threads(2);
  const std::string out = fresh_dir("lock");
  Trainer first(tiny(out));
  REQUIRE_THROWS_WITH(Trainer(tiny(out), TrainerOptions{.resume = "", .overwrite = true}),
                      Catch::Contains("in use") && Catch::Contains("pid " + std::to_string(::getpid())));
  REQUIRE_THROWS_WITH(Trainer(tiny(out), TrainerOptions{.resume = "x", .overwrite = false}), Catch::Contains("in use"));
}

TEST_CASE("checkpoint temporaries left by a killed writer are removed when a run takes the folder") {
  require_data();
  set_num_threads(2);
  const std::string out = fresh_dir("temporaries");
  Trainer(tiny(out, {"run.max_steps=2"})).run();
  for (const char* name : {"checkpoint.safetensors.tmp.12345", "metrics.jsonl.tmp.7"}) std::ofstream(out + "/" + name) << "half";
  std::ofstream(out + "/notes.tmp.txt") << "a user's file";
  Trainer resumed(tiny(out), TrainerOptions{.resume = out + "/checkpoint.safetensors", .overwrite = false});
  CHECK_FALSE(fs::exists(out + "/checkpoint.safetensors.tmp.12345"));
  CHECK_FALSE(fs::exists(out + "/metrics.jsonl.tmp.7"));
  CHECK(fs::exists(out + "/notes.tmp.txt"));  // not ours: kept
}

TEST_CASE("a NaN gradient stops the run naming the step, applies nothing and keeps the good checkpoint") {
  require_data();
  set_num_threads(2);
  const std::string out = fresh_dir("nan_stop");
  Trainer(tiny(out, {"run.max_steps=10"})).run();  // a checkpoint at step 10, the end of epoch 1
  const std::string good = bytes_of(out + "/checkpoint.safetensors");
  {
    Trainer resumed(tiny(out), TrainerOptions{.resume = out + "/checkpoint.safetensors", .overwrite = false});
    resumed.set_before_update([&](std::int64_t step) {
      if (step == 14) poison_a_gradient(resumed);
    });
    REQUIRE_THROWS_WITH(resumed.run(), Catch::Contains("step 14") && Catch::Contains("global norm is not finite") &&
                                           Catch::Contains("step 10) is kept") && Catch::Contains("--detect-anomaly"));
    CHECK(resumed.step() == 13);
    for (const auto& [name, p] : resumed.model().named_parameters()) {
      INFO(name);
      CHECK(all_finite(p));
    }
  }
  CHECK(bytes_of(out + "/checkpoint.safetensors") == good);
  // Records for steps 1..13, each once, none with a null loss.
  std::vector<std::int64_t> expected;
  for (std::int64_t s = 1; s <= 13; ++s) expected.push_back(s);
  CHECK(logged_steps(out) == expected);
  for (double loss : train_losses(out)) CHECK(std::isfinite(loss));
}

TEST_CASE("a checkpoint holding NaN is never written, naming the tensor; the previous one stays") {
  require_data();
  const std::string out = fresh_dir("nan_checkpoint");
  TrainConfig config = tiny(out);
  Generator init(0);
  ViT model(config.model, init);
  const std::string path = out + "/checkpoint.safetensors";
  fs::create_directories(out);
  save_checkpoint(path, model, nullptr, {.step = 1, .config = config.json});
  const std::string good = bytes_of(path);
  const auto params = model.named_parameters();
  {
    NoGrad off;
    fill_(params.back().second, std::numeric_limits<double>::infinity());
  }
  REQUIRE_THROWS_WITH(save_checkpoint(path, model, nullptr, {.step = 2, .config = config.json}),
                      Catch::Contains(params.back().first) && Catch::Contains("NaN or Inf"));
  CHECK(bytes_of(path) == good);
}

TEST_CASE("run.nonfinite = skip: a NaN step is skipped and logged, the run goes on, and resumes consistently") {
  require_data();
  set_num_threads(2);
  const std::string out = fresh_dir("nan_skip");
  {
    Trainer trainer(tiny(out, {"run.nonfinite=\"skip\"", "run.max_steps=10"}));
    trainer.set_before_update([&](std::int64_t step) {
      if (step == 4) poison_a_gradient(trainer);
    });
    CHECK(trainer.run() == 0);
    CHECK(trainer.skipped_steps() == 1);
  }
  CHECK(logged_steps(out, "skip") == std::vector<std::int64_t>{4});
  Checkpoint c = read_checkpoint(out + "/checkpoint.safetensors");
  CHECK(c.info.step == 10);
  CHECK(c.info.skipped_steps == 1);
  Trainer resumed(tiny(out, {"run.nonfinite=\"skip\""}), TrainerOptions{.resume = out + "/checkpoint.safetensors", .overwrite = false});
  CHECK(resumed.step() == 10);
  CHECK(resumed.run() == 0);
  CHECK(read_checkpoint(out + "/checkpoint.safetensors").info.step == 20);
}

TEST_CASE("a signal stops the run at the next step boundary with a checkpoint; resuming equals an uninterrupted run") {
  require_data();
  set_num_threads(2);
  const std::string whole = fresh_dir("signal_whole"), part = fresh_dir("signal_part");
  Trainer(tiny(whole)).run();
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    DYNAMIC_SECTION("signal " << signal) {
      {
        Trainer trainer(tiny(part), TrainerOptions{.resume = "", .overwrite = true});
        trainer.set_before_update([signal](std::int64_t step) {
          if (step == 7) std::raise(signal);  // mid-step: the step finishes, then the run stops
        });
        CHECK(trainer.run() == signal);
        CHECK(trainer.step() == 7);
      }
      CHECK(read_checkpoint(part + "/checkpoint.safetensors").info.step == 7);
      Trainer resumed(tiny(part), TrainerOptions{.resume = part + "/checkpoint.safetensors", .overwrite = false});
      CHECK(resumed.run() == 0);
      CHECK(train_losses(part) == train_losses(whole));  // bit for bit, each step once
    }
  }
}

TEST_CASE("on resume the records logged past the checkpoint and a truncated last line are dropped") {
  require_data();
  set_num_threads(2);
  const std::string whole = fresh_dir("repair_whole"), part = fresh_dir("repair_part");
  Trainer(tiny(whole)).run();
  Trainer(tiny(part, {"run.max_steps=10"})).run();
  {  // as a run killed after logging steps 11 and 12 and half of 13, past its checkpoint of step 10
    std::ofstream log(part + "/metrics.jsonl", std::ios::app);
    log << R"({"kind":"train","step":11,"loss":9.0})" << '\n' << R"({"kind":"train","step":12,"loss":9.0})" << '\n'
        << R"({"kind":"train","st)";
  }
  Trainer resumed(tiny(part), TrainerOptions{.resume = part + "/checkpoint.safetensors", .overwrite = false});
  resumed.run();
  CHECK(logged_steps(part) == logged_steps(whole));
  CHECK(logged_steps(part, "eval") == std::vector<std::int64_t>{10, 20});
  CHECK(train_losses(part) == train_losses(whole));
}

TEST_CASE("a checkpoint tensor of another dtype is refused naming the tensor and both dtypes") {
  require_data();
  const std::string out = fresh_dir("dtype");
  TrainConfig config = tiny(out);
  Generator init(0);
  ViT model(config.model, init);
  fs::create_directories(out);
  NamedTensors tensors = model.named_parameters();
  const std::string victim = tensors.front().first;
  tensors.front().second = zeros(tensors.front().second.shape(), {DType::int64});
  save_safetensors(out + "/bad.safetensors", tensors,
                   {{"format", kCheckpointFormat}, {"step", "0"}, {"seed", "0"}, {"config", config.json.dump()}});
  REQUIRE_THROWS_WITH(restore_checkpoint(read_checkpoint(out + "/bad.safetensors"), model, nullptr),
                      Catch::Contains(victim) && Catch::Contains("int64") && Catch::Contains("float32"));
}

TEST_CASE("training and evaluation folders with different classes are refused with both lists") {
  const std::string root = fresh_dir("classes");
  const auto jpeg = data::encode_jpeg(data::Image(16, 16, 3, 128));
  for (const char* folder : {"train/cat", "train/dog", "val/ant", "val/cat"}) {
    fs::create_directories(root + "/" + folder);
    data::write_file(root + "/" + folder + "/a.jpeg", jpeg);
  }
  nlohmann::json c = {{"model",
                       {{"variant", "custom"}, {"width", 16}, {"depth", 1}, {"heads", 2}, {"mlp_dim", 32}, {"patch", 4},
                        {"image", 16}, {"channels", 3}, {"classes", 2}, {"layer", "self_attention"}}},
                      {"data", {{"dataset", "image_folder"}, {"root", root}}},
                      {"run", {{"out", root + "/run"}}}};
  const TrainConfig config = parse_train_config(c, {}, "test");
  REQUIRE_THROWS_WITH(make_datasets(config),
                      Catch::Contains("different classes") && Catch::Contains("cat, dog") && Catch::Contains("ant, cat"));
  CHECK_NOTHROW(make_datasets(config, false));  // evaluation alone (mttt eval) has nothing to compare
}
