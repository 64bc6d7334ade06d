// A training step on a device never waits for it and never calls its raw allocator: after
// warm-up, a step of a small ViT with an MTTT-MLP layer (T = 4 inner steps, SGD: token orders
// cross to the device every step) through Trainer::train_step makes no host synchronisation and
// no driver allocation on the device, and its kernel launches stay under a bound measured on it
// (tensor/backend/device_counters.hpp; docs/backends.md, "No waiting on a training step"). A
// logged step reads its loss, gradient norm and inner losses back, and only then. The device is thrust-host
// unless MTTT_PARITY_DEVICE names another; skips (exit 77) without Debian's dataset-fashion-mnist.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "mttt/ttt_mixer.hpp"
#include "nn/data/fashion_mnist.hpp"
#include "nn/train/trainer.hpp"
#include "tensor/tensor.hpp"
#include "tests/parity/parity_check.hpp"

using namespace mttt;
using namespace mttt::nn;

namespace {

const std::string kDevice = to_string(parity::kThrust);  // skips (exit 77) where it cannot be used

// 16 tokens of 7x7 patches, one block, MTTT-MLP with four SGD inner steps; AdamW with gradient
// clipping (the norm and the factor stay on the device); a train record only every 4 steps.
TrainConfig config(const std::string& out) {
  nlohmann::json c = {
      {"model",
       {{"variant", "custom"}, {"width", 16}, {"depth", 1}, {"heads", 2}, {"mlp_dim", 32}, {"patch", 7}, {"image", 28},
        {"channels", 1}, {"classes", 10}, {"layer", {{"kind", "mttt_mlp"}, {"steps", 4}, {"sgd", true}}}}},
      {"data", {{"dataset", "fashion_mnist"}, {"train_subset", 64}, {"test_subset", 16}, {"threads", 1}}},
      {"optim", {{"optimizer", "adamw"}, {"lr", 0.003}, {"warmup_steps", 2}, {"clip_norm", 0.5}}},
      {"run",
       {{"seed", 5}, {"epochs", 4}, {"batch_size", 16}, {"log_every", 4}, {"checkpoint", false},
        {"device", kDevice}, {"out", out}}}};
  return parse_train_config(c, {}, "test");
}

}  // namespace

TEST_CASE("a steady-state training step makes no host synchronisation and no driver allocation") {
  if (!data::fashion_mnist_available()) {
    std::fprintf(stderr, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): skipping\n");
    std::exit(77);
  }
  ttt::register_ttt_mixers();
  const auto out = std::filesystem::temp_directory_path() / ("mttt_step_counters_" + std::to_string(::getpid()));
  Trainer trainer(config(out.string()));
  const Device device = parse_device(kDevice);
  for (int i = 0; i < 3; ++i) trainer.train_step(false);  // warm-up: the caching allocator fills

  for (int i = 0; i < 3; ++i) {
    const LaunchStats before = launch_stats(device);
    const double loss = trainer.train_step(false);
    const LaunchStats step = launch_stats(device) - before;
    INFO("step " << trainer.step() << ": " << step.kernel_launches << " launches, " << step.host_syncs << " syncs, "
                 << step.driver_allocations << " driver allocations, " << step.bytes_to_device << " bytes to the device, "
                 << step.bytes_to_host << " to the host");
    CHECK(std::isnan(loss));  // nothing was read back
    CHECK(step.host_syncs == 0);
    CHECK(step.bytes_to_host == 0);
    CHECK(step.driver_allocations == 0);
    // The batch (16 images of 28x28 float32 and 16 labels), two token orders (2 heads x 16
    // int64) and the optimiser's five step scalars (float32) cross to the device, and nothing
    // else: the elementwise programs too long to travel as kernel arguments stay on the device.
    CHECK(step.bytes_to_device == 16 * 28 * 28 * 4 + 16 * 8 + 2 * 16 * 8 + 5 * 4);
    // Measured on thrust-host: 860 launches a step (113 of them GEMMs; the same on every
    // step); held with a 10% margin, so that a change that adds kernels to the step shows here.
    CHECK(step.kernel_launches > 0);
    CHECK(step.kernel_launches <= 946);
  }

  // The loss stayed on the device; reading it is one synchronisation.
  const LaunchStats unread = launch_stats(device);
  CHECK(std::isfinite(trainer.last_loss()));
  CHECK((launch_stats(device) - unread).host_syncs == 1);

  // A logged step reads the loss, the gradient norm and the inner losses back.
  const LaunchStats before = launch_stats(device);
  const double loss = trainer.train_step(true);
  const LaunchStats logged = launch_stats(device) - before;
  CHECK(std::isfinite(loss));
  CHECK(logged.host_syncs >= 2);
  CHECK(logged.bytes_to_host > 0);
  std::filesystem::remove_all(out);
}

// With run.cuda_graphs the same step, once captured, is one launch of its graph, the batch's copy
// into its static inputs and the non-finite watch's few kernels; what crosses to the device is the same.
TEST_CASE("a replayed training step is one graph launch") {
  if (!data::fashion_mnist_available()) std::exit(77);
  ttt::register_ttt_mixers();
  const auto out = std::filesystem::temp_directory_path() / ("mttt_step_counters_graph_" + std::to_string(::getpid()));
  TrainConfig c = config(out.string());
  c.run.cuda_graphs = true;
  Trainer trainer(c);
  const Device device = parse_device(kDevice);
  for (int i = 0; i < 3; ++i) trainer.train_step(false);  // two warm-up steps, then the capture
  REQUIRE(trainer.step_graph()->captured());
  for (int i = 0; i < 3; ++i) {
    const LaunchStats before = launch_stats(device);
    CHECK(std::isnan(trainer.train_step(false)));
    const LaunchStats step = launch_stats(device) - before;
    INFO(step.kernel_launches << " launches");
    CHECK(step.host_syncs == 0);
    CHECK(step.bytes_to_host == 0);
    CHECK(step.driver_allocations == 0);
    CHECK(step.bytes_to_device == 16 * 28 * 28 * 4 + 16 * 8 + 2 * 16 * 8 + 5 * 4);
    // The batch (on the device already, copied on the copy stream during the step before) copied
    // into the graph's static inputs, images and labels; the replay; then the watch: the loss
    // cast to float64, its finiteness, times the norm's, the first non-finite step (measured: 7).
    CHECK(step.kernel_launches == 7);
  }
  std::filesystem::remove_all(out);
}
