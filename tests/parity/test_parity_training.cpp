// Training on another device runs the same code as on the CPU: a ViT with an MTTT-MLP layer
// (SGD inner steps, so token orders cross to the device too) trained on thrust-host logs the
// losses, inner losses, accuracy and final weights of the same run on the CPU, to float32
// rounding; its checkpoint resumes on the CPU. The device under test is thrust-host unless
// MTTT_PARITY_DEVICE names another (cuda on a GPU machine). Skips (exit 77) without Debian's
// dataset-fashion-mnist.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "mttt/ttt_mixer.hpp"
#include "nn/data/fashion_mnist.hpp"
#include "nn/train/checkpoint.hpp"
#include "nn/train/metrics_log.hpp"
#include "nn/train/trainer.hpp"
#include "tensor/tensor.hpp"
#include "tests/parity/parity_check.hpp"
#include "tests/support.hpp"

using namespace mttt;
using namespace mttt::nn;
namespace fs = std::filesystem;

namespace {

const std::string kDevice = to_string(parity::kThrust);  // skips (exit 77) where it cannot be used

void require_data() { test::require_fashion_mnist(); }

std::string fresh_dir(const std::string& name) { return test::fresh_dir("parity_training", name); }

// A ViT small enough for thrust-host: 16 tokens of 7x7 patches, one block, MTTT-MLP with two SGD steps.
TrainConfig small_config(const std::string& out, const std::string& device, std::vector<std::string> overrides = {}) {
  nlohmann::json c = {
      {"model",
       {{"variant", "custom"}, {"width", 16}, {"depth", 1}, {"heads", 2}, {"mlp_dim", 32}, {"patch", 7}, {"image", 28},
        {"channels", 1}, {"classes", 10}, {"layer", {{"kind", "mttt_mlp"}, {"steps", 2}, {"sgd", true}}}}},
      {"data", {{"dataset", "fashion_mnist"}, {"train_subset", 96}, {"test_subset", 64}}},
      {"optim", {{"optimizer", "adamw"}, {"lr", 0.003}, {"warmup_steps", 2}, {"weight_decay", 1e-4}}},
      {"run", {{"seed", 3}, {"epochs", 2}, {"batch_size", 32}, {"eval_batch_size", 64}, {"log_every", 1}, {"out", out}}}};
  overrides.push_back("run.device=\"" + device + "\"");
  return parse_train_config(c, overrides, "test");
}

std::vector<nlohmann::json> records_of(const std::string& out, const std::string& kind) {
  std::vector<nlohmann::json> out_records;
  for (const auto& r : read_metrics(out + "/metrics.jsonl"))
    if (r["kind"] == kind) out_records.push_back(r);
  return out_records;
}

// |a - b| / max(1, |b|)
double relative(double a, double b) { return std::abs(a - b) / std::max(1.0, std::abs(b)); }

void check_close(const std::vector<double>& a, const std::vector<double>& b, double tolerance) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("value " << i << ": " << a[i] << " against " << b[i]);
    CHECK(relative(a[i], b[i]) <= tolerance);
  }
}

std::vector<double> field(const std::vector<nlohmann::json>& records, const char* key) {
  std::vector<double> out;
  for (const auto& r : records) out.push_back(r[key].get<double>());
  return out;
}

std::vector<double> inner_losses(const std::vector<nlohmann::json>& records) {
  std::vector<double> out;
  for (const auto& r : records)
    for (const auto& [layer, values] : r["inner_losses"].items())
      for (double v : values.get<std::vector<double>>()) out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("parity: a ViT with an MTTT-MLP layer trains on the device as it does on the CPU") {
  require_data();
  ttt::register_ttt_mixers();
  set_num_threads(2);
  const std::string on_cpu = fresh_dir("cpu"), on_device = fresh_dir("device");
  Trainer(small_config(on_cpu, "cpu")).run();
  {
    Trainer trainer(small_config(on_device, kDevice));
    REQUIRE(to_string(trainer.model().device()) == kDevice);
    trainer.run();
    for (const auto& [name, t] : trainer.model().named_parameters()) {
      INFO(name);
      CHECK(to_string(t.device()) == kDevice);
    }
  }

  // Six updates and two evaluations; the backends differ in the last bits of exp, tanh and
  // their summation orders, and the differences grow a little with every update.
  const auto train_cpu = records_of(on_cpu, "train"), train_device = records_of(on_device, "train");
  REQUIRE(train_cpu.size() == 6);
  check_close(field(train_device, "loss"), field(train_cpu, "loss"), 1e-4);
  check_close(field(train_device, "grad_norm"), field(train_cpu, "grad_norm"), 1e-3);
  check_close(inner_losses(train_device), inner_losses(train_cpu), 1e-4);
  const auto eval_cpu = records_of(on_cpu, "eval"), eval_device = records_of(on_device, "eval");
  REQUIRE(eval_cpu.size() == 2);
  check_close(field(eval_device, "loss"), field(eval_cpu, "loss"), 1e-4);
  check_close(inner_losses(eval_device), inner_losses(eval_cpu), 1e-4);
  // Accuracies are counts of 64 images: a logit that rounds the other way moves one image.
  for (std::size_t i = 0; i < eval_cpu.size(); ++i)
    CHECK(std::abs(eval_device[i]["accuracy"].get<double>() - eval_cpu[i]["accuracy"].get<double>()) <= 1.5 / 64);

  // The checkpoints (written from the device through host memory) hold the same weights.
  Checkpoint a = read_checkpoint(on_device + "/checkpoint.safetensors");
  Checkpoint b = read_checkpoint(on_cpu + "/checkpoint.safetensors");
  REQUIRE(a.file.tensors.size() == b.file.tensors.size());
  for (std::size_t i = 0; i < a.file.tensors.size(); ++i) {
    const auto& [name, t] = a.file.tensors[i];
    INFO(name);
    REQUIRE(name == b.file.tensors[i].first);
    REQUIRE(t.device() == kCPU);
    const Tensor& reference = b.file.tensors[i].second;
    if (t.dtype() == DType::int64) {
      CHECK(t.to_vector<std::int64_t>() == reference.to_vector<std::int64_t>());
      continue;
    }
    const double scale = std::max(1.0, max(abs(reference)).item<double>());
    CHECK(max(abs(t - reference)).item<double>() / scale <= 1e-3);
  }
}

TEST_CASE("parity: a run stopped on the device resumes on the CPU, and one stopped on the CPU on the device") {
  require_data();
  ttt::register_ttt_mixers();
  set_num_threads(2);
  const std::string whole = fresh_dir("whole"), there = fresh_dir("there"), back = fresh_dir("back");
  Trainer(small_config(whole, "cpu")).run();
  const auto reference = field(records_of(whole, "train"), "loss");

  Trainer(small_config(there, kDevice, {"run.max_steps=3"})).run();
  Trainer resumed_on_cpu(small_config(there, "cpu"), there + "/checkpoint.safetensors");
  REQUIRE(resumed_on_cpu.step() == 3);
  resumed_on_cpu.run();
  check_close(field(records_of(there, "train"), "loss"), reference, 1e-4);

  Trainer(small_config(back, "cpu", {"run.max_steps=3"})).run();
  Trainer resumed_on_device(small_config(back, kDevice), back + "/checkpoint.safetensors");
  REQUIRE(to_string(resumed_on_device.model().device()) == kDevice);
  resumed_on_device.run();
  const auto losses = field(records_of(back, "train"), "loss");
  REQUIRE(losses.size() == reference.size());
  // The first three were logged on the CPU: bit for bit the uninterrupted run's.
  for (std::size_t i = 0; i < 3; ++i) CHECK(losses[i] == reference[i]);
  check_close(losses, reference, 1e-4);
}

TEST_CASE("parity: modules move to the device with their trainable and frozen parameters and buffers") {
  ttt::register_ttt_mixers();
  const Device device = parse_device(kDevice);
  TrainConfig config = small_config(fresh_dir("unused"), "cpu", {"model.layer={\"kind\": \"mttt_linear\"}", "model.posemb=\"sincos\""});
  Generator generator(0);
  ViT model(config.model, generator);
  const auto before = model.named_parameters();
  const auto frozen = model.frozen_names();
  REQUIRE(!frozen.empty());  // MTTT-Linear's W0
  REQUIRE(!model.named_buffers().empty());  // the sin-cos position embedding
  REQUIRE(model.device() == kCPU);

  model.to_(device);
  CHECK(model.device() == device);
  for (const auto& [name, t] : model.named_buffers()) CHECK(t.device() == device);
  const auto after = model.named_parameters();
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    const auto& [name, t] = after[i];
    INFO(name);
    CHECK(t.device() == device);
    CHECK(t.is_leaf());
    CHECK(t.requires_grad() == before[i].second.requires_grad());
    CHECK(t.requires_grad() == !model.is_frozen(name));
    CHECK(to(t, kCPU).to_vector<double>() == before[i].second.to_vector<double>());
  }
  CHECK(model.frozen_names() == frozen);

  SECTION("load_tensors copies CPU values onto the device") {
    model.load_tensors(before);
    CHECK(model.device() == device);
    for (const auto& [name, t] : before) CHECK(to(model.tensor(name), kCPU).to_vector<double>() == t.to_vector<double>());
  }
  SECTION("a CPU input is refused, naming both devices") {
    NoGrad evaluation;
    Tensor images = zeros({2, 28, 28, 1});
    REQUIRE_THROWS_WITH(model.forward(images), Catch::Contains("cpu") && Catch::Contains(kDevice));
  }
  SECTION("parameters spread over two devices are named") {
    ViT mixed(config.model, generator);
    mixed.submodule("head").to_(device);
    REQUIRE_THROWS_WITH(mixed.device(), Catch::Contains("head.") && Catch::Contains(kDevice) && Catch::Contains("cpu"));
  }
}

TEST_CASE("parity: run.device names a device or is refused") {
  REQUIRE_THROWS_WITH(small_config("unused", "tpu"), Catch::Contains("run.device") && Catch::Contains("tpu"));
}
