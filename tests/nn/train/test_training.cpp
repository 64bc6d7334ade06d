// End-to-end training on Fashion-MNIST: a small ViT learns, a resumed run logs the same losses
// as an uninterrupted one, and damaged or mismatched checkpoints are refused. Skips (exit 77)
// without Debian's dataset-fashion-mnist.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "mttt/ttt_mixer.hpp"
#include "nn/data/fashion_mnist.hpp"
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

std::string fresh_dir(const std::string& name) { return test::fresh_dir("training", name); }

nlohmann::json small_config(const std::string& out) {
  return {{"model",
           {{"variant", "custom"}, {"width", 32}, {"depth", 2}, {"heads", 2}, {"mlp_dim", 64}, {"patch", 4},
            {"image", 28}, {"channels", 1}, {"classes", 10}, {"layer", "self_attention"}}},
          {"data", {{"dataset", "fashion_mnist"}, {"train_subset", 4000}, {"test_subset", 1000}}},
          {"optim", {{"optimizer", "adam"}, {"lr", 0.01}, {"schedule", "cosine"}, {"warmup_steps", 20}, {"weight_decay", 0}}},
          {"run", {{"seed", 0}, {"epochs", 5}, {"batch_size", 50}, {"eval_batch_size", 500}, {"log_every", 20}, {"out", out}}}};
}

std::vector<double> train_losses(const std::string& out) {
  std::vector<double> losses;
  for (const auto& r : read_metrics(out + "/metrics.jsonl"))
    if (r["kind"] == "train") losses.push_back(r["loss"].get<double>());
  return losses;
}

}  // namespace

TEST_CASE("a small ViT learns Fashion-MNIST: at least 70% within 400 steps") {
  require_data();
  set_num_threads(2);
  const std::string out = fresh_dir("learn");
  Trainer trainer(parse_train_config(small_config(out), {}, "test"));
  REQUIRE(trainer.total_steps() == 400);
  trainer.run();
  auto records = read_metrics(out + "/metrics.jsonl");
  double accuracy = 0;
  for (const auto& r : records)
    if (r["kind"] == "eval") accuracy = r["accuracy"].get<double>();
  INFO("final test accuracy " << accuracy);
  CHECK(accuracy >= 0.70);
  // mttt eval scores the checkpoint the same way.
  TrainConfig config;
  auto model = load_model(out + "/checkpoint.safetensors", &config);
  Datasets data = make_datasets(config, false);
  CHECK(evaluate_model(*model, *data.eval, config).accuracy == accuracy);
}

TEST_CASE("a run stopped after one epoch and resumed logs the same losses as an uninterrupted one") {
  require_data();
  set_num_threads(2);
  ttt::register_ttt_mixers();
  auto config = [](const std::string& out) {
    nlohmann::json c = small_config(out);
    // A TTT layer with SGD steps: its token orders must follow the step across the resumption.
    c["model"]["patch"] = 7;
    c["model"]["layer"] = {{"kind", "mttt_mlp"}, {"steps", 4}, {"sgd", true}};
    c["data"]["train_subset"] = 500;
    c["data"]["test_subset"] = 200;
    c["run"]["epochs"] = 2;
    c["run"]["log_every"] = 1;
    return c;
  };
  const std::string whole = fresh_dir("whole"), part = fresh_dir("part");
  Trainer(parse_train_config(config(whole), {}, "test")).run();
  Trainer(parse_train_config(config(part), {"run.max_steps=10"}, "test")).run();
  {
    Trainer resumed(parse_train_config(config(part), {}, "test"), part + "/checkpoint.safetensors");
    CHECK(resumed.step() == 10);
    resumed.run();
  }  // releases the run folder's lock for the sections below
  auto a = train_losses(whole), b = train_losses(part);
  REQUIRE(a.size() == 20);
  CHECK(a == b);  // bit for bit

  SECTION("a checkpoint of another model is refused, naming what differs") {
    REQUIRE_THROWS_WITH(Trainer(parse_train_config(config(part), {"model.width=48"}, "test"),
                                part + "/checkpoint.safetensors"),
                        Catch::Contains("model section differs"));
  }
  SECTION("a truncated checkpoint is refused, naming the file") {
    std::string damaged = part + "/damaged.safetensors";
    fs::copy_file(part + "/checkpoint.safetensors", damaged);
    fs::resize_file(damaged, fs::file_size(damaged) - 100);
    REQUIRE_THROWS_WITH(read_checkpoint(damaged), Catch::Contains(damaged));
  }
  SECTION("a checkpoint whose tensor has another shape is refused, naming the tensor and both shapes") {
    Checkpoint c = read_checkpoint(part + "/checkpoint.safetensors");
    for (auto& [name, t] : c.file.tensors)
      if (name == "head.kernel") t = zeros({16, 10});
    TrainConfig tc = parse_train_config(config(part), {}, "test");
    Generator gen(0);
    ViT model(tc.model, gen);
    REQUIRE_THROWS_WITH(restore_checkpoint(c, model, nullptr),
                        Catch::Contains("head.kernel") && Catch::Contains("(16, 10)") && Catch::Contains("(32, 10)"));
  }
}

TEST_CASE("gradient accumulation: two micro-batches of 25 update as one batch of 50") {
  require_data();
  set_num_threads(2);
  auto config = [](const std::string& out) {
    nlohmann::json c = small_config(out);
    c["data"]["train_subset"] = 250;
    c["data"]["test_subset"] = 100;
    c["run"]["epochs"] = 1;
    c["run"]["log_every"] = 1;
    return c;
  };
  const std::string whole = fresh_dir("accumulate_1"), split = fresh_dir("accumulate_2");
  Trainer(parse_train_config(config(whole), {}, "test")).run();
  Trainer(parse_train_config(config(split), {"run.accumulation=2"}, "test")).run();
  const auto a = train_losses(whole), b = train_losses(split);
  REQUIRE(a.size() == 5);
  REQUIRE(b.size() == a.size());
  // The mean of two half-batch means is the batch mean: the same updates, up to float32 rounding.
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("step " << i + 1 << ": " << a[i] << " against " << b[i]);
    CHECK(std::abs(a[i] - b[i]) <= 1e-4 * std::abs(a[i]));
  }
  REQUIRE_THROWS_WITH(parse_train_config(config(split), {"run.accumulation=3"}, "test"),
                      Catch::Contains("run.batch_size 50") && Catch::Contains("run.accumulation 3"));
}

// Memory stays flat over a long run (tools/bench/soak.cpp): once warm, a training step builds no
// fusion program that is not already in the table (a per-step constant, such as the step number
// or a scheduled learning rate baked into a program, would add one every step), across epoch
// boundaries and logged steps, with MTTT-MLP's SGD token orders, a cosine schedule and AdamW's weight decay.
TEST_CASE("a warm training step adds no program to the fusion IR's table") {
  require_data();
  ttt::register_ttt_mixers();
  set_num_threads(1);
  nlohmann::json c = small_config(fresh_dir("no_new_programs"));
  c["model"]["width"] = 16;
  c["model"]["depth"] = 1;
  c["model"]["patch"] = 7;
  c["model"]["layer"] = {{"kind", "mttt_mlp"}, {"steps", 2}, {"sgd", true}};
  c["data"]["train_subset"] = 100;
  c["optim"]["optimizer"] = "adamw";
  c["optim"]["weight_decay"] = 0.05;
  c["run"]["batch_size"] = 20;  // 5 steps an epoch
  Trainer trainer(parse_train_config(c, {}, "test"));
  for (int s = 1; s <= 6; ++s) trainer.train_step(s % 3 == 0);
  const std::size_t warm = expr::interned_programs();
  for (int s = 7; s <= 30; ++s) {
    trainer.train_step(s % 3 == 0);
    INFO("step " << s);
    REQUIRE(expr::interned_programs() == warm);
  }
}
