// run.cuda_graphs (nn/train/step_graph.hpp) on the device under test (thrust-host, which
// emulates CUDA Graphs; cuda on a GPU through MTTT_PARITY_DEVICE): a ViT with an MTTT-MLP layer
// (SGD inner steps: token orders drawn on the host for every replay) trains to the same losses,
// gradient norms and weights, bit for bit, with its steps captured and replayed as without;
// eager steps between replays (logged steps that read inner losses, batches of another shape)
// change nothing; a run stopped and resumed with graphs logs what an uninterrupted one does. Skips (exit 77) without Debian's dataset-fashion-mnist.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "mttt/ttt_mixer.hpp"
#include "nn/train/checkpoint.hpp"
#include "nn/train/metrics_log.hpp"
#include "nn/loss.hpp"
#include "nn/train/trainer.hpp"
#include "tensor/tensor.hpp"
#include "tests/parity/parity_check.hpp"
#include "tests/support.hpp"

using namespace mttt;
using namespace mttt::nn;

namespace {

const std::string kDevice = to_string(parity::kThrust);  // skips (exit 77) where it cannot be used

TrainConfig config(const std::string& out, bool graphs, std::vector<std::string> overrides = {}) {
  nlohmann::json c = {
      {"model",
       {{"variant", "custom"}, {"width", 16}, {"depth", 1}, {"heads", 2}, {"mlp_dim", 32}, {"patch", 7}, {"image", 28},
        {"channels", 1}, {"classes", 10}, {"layer", {{"kind", "mttt_mlp"}, {"steps", 2}, {"sgd", true}}}}},
      {"data", {{"dataset", "fashion_mnist"}, {"train_subset", 96}, {"test_subset", 32}}},
      {"optim", {{"optimizer", "adamw"}, {"lr", 0.003}, {"warmup_steps", 3}, {"weight_decay", 1e-4}, {"clip_norm", 1.0}}},
      {"run",
       {{"seed", 4}, {"epochs", 3}, {"batch_size", 16}, {"eval_batch_size", 32}, {"log_every", 1},
        {"inner_losses", false}, {"device", kDevice}, {"cuda_graphs", graphs}, {"out", out}}}};
  return parse_train_config(c, overrides, "test");
}

std::vector<nlohmann::json> train_records(const std::string& out) {
  std::vector<nlohmann::json> records;
  for (const auto& r : read_metrics(out + "/metrics.jsonl"))
    if (r["kind"] == "train") records.push_back(r);
  return records;
}

// The logged records (loss, gradient norm, inner losses where logged) and the checkpoint's
// tensors (weights and optimiser slots) of two runs, bit for bit.
void check_same_run(const std::string& a, const std::string& b) {
  const auto ra = train_records(a), rb = train_records(b);
  REQUIRE(ra.size() == rb.size());
  for (std::size_t i = 0; i < ra.size(); ++i) {
    INFO("record " << i);
    CHECK(ra[i]["loss"] == rb[i]["loss"]);
    CHECK(ra[i]["grad_norm"] == rb[i]["grad_norm"]);
    CHECK(ra[i].value("inner_losses", nlohmann::json()) == rb[i].value("inner_losses", nlohmann::json()));
  }
  Checkpoint ca = read_checkpoint(a + "/checkpoint.safetensors"), cb = read_checkpoint(b + "/checkpoint.safetensors");
  REQUIRE(ca.file.tensors.size() == cb.file.tensors.size());
  for (std::size_t i = 0; i < ca.file.tensors.size(); ++i) {
    INFO(ca.file.tensors[i].first);
    REQUIRE(ca.file.tensors[i].first == cb.file.tensors[i].first);
    CHECK(ca.file.tensors[i].second.to_vector<double>() == cb.file.tensors[i].second.to_vector<double>());
  }
}

}  // namespace

TEST_CASE("steps captured and replayed train a ViT with SGD token orders exactly as eager steps") {
  test::require_fashion_mnist();
  ttt::register_ttt_mixers();
  const std::string eager = test::fresh_dir("step_graph", "eager"), graphs = test::fresh_dir("step_graph", "graphs");
  Trainer(config(eager, false)).run();
  {
    Trainer trainer(config(graphs, true));
    trainer.run();
    REQUIRE(trainer.step_graph() != nullptr);
    CHECK(trainer.step_graph()->replays() == trainer.step() - 2);  // every step after the two warm-up steps
  }
  check_same_run(graphs, eager);
}

TEST_CASE("eager steps between replays (inner losses read back) change nothing") {
  test::require_fashion_mnist();
  ttt::register_ttt_mixers();
  // Inner losses read on every other step: those steps run eagerly, the others are replayed.
  const std::vector<std::string> mixed = {"run.inner_losses=true", "run.log_every=2"};
  const std::string eager = test::fresh_dir("step_graph", "mixed_eager"), graphs = test::fresh_dir("step_graph", "mixed");
  Trainer(config(eager, false, mixed)).run();
  {
    Trainer trainer(config(graphs, true, mixed));
    trainer.run();
    CHECK(trainer.step_graph()->replays() == trainer.step() / 2 - 2);  // the odd steps but two warm-up ones
  }
  check_same_run(graphs, eager);
}

// StepGraph itself: batches of another shape run eagerly beside the captured ones, and the
// optimiser's gradient norm read after a replay is the replay's, also after an eager step.
TEST_CASE("a step graph runs other shapes eagerly, and an eager step in between changes nothing") {
  const Device device = parity::kThrust;
  auto make = [&](Generator& g) { return to(uniform({6, 4}, -1, 1, {}, &g), device).requires_grad_(); };
  Generator g1(3), g2(3);
  Tensor w_graph = make(g1), w_eager = make(g2);
  OptimizerOptions o;
  o.lr = warmup_linear_schedule(0.05, 2, 20);
  o.clip_norm = 0.5;
  Adam graph_opt({{"w", w_graph}}, o), eager_opt({{"w", w_eager}}, o);
  StepGraph steps(device);
  auto work = [&](const Tensor& images, const Tensor& labels) {
    Tensor loss = softmax_cross_entropy(matmul(images, w_graph), labels);
    loss.backward();
    graph_opt.update();
    graph_opt.zero_grad();
    return loss.detach();
  };
  Generator data(9);
  for (int i = 0; i < 10; ++i) {
    const std::int64_t batch = i == 4 || i == 7 ? 3 : 5;  // two steps of another shape
    Tensor images = uniform({batch, 6}, -1, 1, {}, &data);
    Tensor labels = cast(uniform({batch}, 0, 4, {}, &data), DType::int64);
    graph_opt.prepare_step();
    const Tensor loss = steps.run(images, labels, /*eager=*/i == 8, work);
    graph_opt.finish_step();
    Tensor reference = softmax_cross_entropy(matmul(to(images, device), w_eager), to(labels, device));
    reference.backward();
    eager_opt.step();
    eager_opt.zero_grad();
    INFO("step " << i);
    CHECK(to(loss, kCPU).item<double>() == to(reference, kCPU).item<double>());
    CHECK(graph_opt.last_grad_norm() == eager_opt.last_grad_norm());
    CHECK(to(w_graph, kCPU).to_vector<double>() == to(w_eager, kCPU).to_vector<double>());
  }
  CHECK(steps.replays() == 10 - 2 - 3);  // two warm-up steps, two of the other shape, one asked eager
}

TEST_CASE("a run with graphs stopped and resumed logs what an uninterrupted one does") {
  test::require_fashion_mnist();
  ttt::register_ttt_mixers();
  const std::string whole = test::fresh_dir("step_graph", "whole"), parts = test::fresh_dir("step_graph", "parts");
  Trainer(config(whole, true)).run();
  Trainer(config(parts, true, {"run.max_steps=7"})).run();
  Trainer resumed(config(parts, true), parts + "/checkpoint.safetensors");
  REQUIRE(resumed.step() == 7);
  resumed.run();
  check_same_run(parts, whole);
}

TEST_CASE("run.cuda_graphs is refused where a step cannot be captured, naming why") {
  auto refused = [](std::vector<std::string> overrides, const std::string& words) {
    try {
      config("unused", true, overrides);
      FAIL("accepted");
    } catch (const std::exception& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(words) != std::string::npos);
    }
  };
  refused({"run.device=\"cpu\""}, "run.cuda_graphs is for run.device cuda");
  refused({"run.nonfinite=\"skip\""}, "run.cuda_graphs needs run.nonfinite = stop");
  try {
    check_step_graph_ranks(4, false);
    FAIL("accepted");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("MPI, which a CUDA graph cannot capture") != std::string::npos);
  }
  check_step_graph_ranks(4, true);
  check_step_graph_ranks(1, false);
}
