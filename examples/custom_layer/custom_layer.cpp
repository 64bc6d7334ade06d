// A token mixer of one's own, written outside the source tree against the installed package,
// registered under a name and trained by the trainer in the ViT's drop-in slot in place of
// self-attention (docs/custom-layer.md walks through it).
//
// The layer, "gated_mean": every token reads the mean of the tokens' values through a gate of its
// own,
//     v_j = y_j W_v,   g_i = sigmoid(y_i W_g),   out_i = (g_i * mean_j v_j) W_o
// mapping the block-normalised tokens (B, N, D) to (B, N, D) as every token mixer does
// (nn/token_mixer.hpp). One option, "gate": false drops the gate (g_i = 1).
//
// Build against the installed package (PKG_CONFIG_PATH names the folder that holds mttt.pc):
//   c++ -std=c++20 -O2 custom_layer.cpp $(pkg-config --cflags --libs mttt) -o custom_layer
// Run: ./custom_layer OUT_FOLDER [STEPS]
// It trains a small ViT on 200 Fashion-MNIST images (Debian's dataset-fashion-mnist; exit 77
// without it) for STEPS steps (default 30) and exits 1 unless the loss went down.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "nn/config_values.hpp"
#include "nn/data/fashion_mnist.hpp"
#include "nn/layers/linear.hpp"
#include "nn/token_mixer.hpp"
#include "nn/train/trainer.hpp"
#include "tensor/tensor.hpp"

using namespace mttt;

namespace {

class GatedMean : public nn::TokenMixer {
 public:
  GatedMean(std::int64_t width, bool gate, Generator& generator, DType dtype) : width_(width), gate_(gate) {
    nn::LinearOptions o{.kernel_init = nn::init::xavier_uniform(), .bias_init = nn::init::zeros(), .dtype = dtype};
    // Registered children are the layer's parameters: blocks.<i>.layer.value.kernel, ... in
    // checkpoints, counted by the trainer and updated by its optimiser.
    value_ = &register_module("value", std::make_unique<nn::Linear>(width, width, generator, o));
    if (gate_) gate_proj_ = &register_module("gate", std::make_unique<nn::Linear>(width, width, generator, o));
    out_ = &register_module("out", std::make_unique<nn::Linear>(width, width, generator, o));
  }

  // Written in the library's differentiable ops, so the trainer's backward pass (and a second
  // order one, if anyone asks) goes through it with no more code.
  Tensor forward(const Tensor& y) override {
    check(y.rank() == 3 && y.size(2) == width_, "gated_mean", "input {} must be (B, N, {})", to_string(y.shape()),
          width_);
    Tensor context = mean(value_->forward(y), {1}, /*keepdim=*/true);  // (B, 1, D)
    Tensor mixed = gate_ ? sigmoid(gate_proj_->forward(y)) * context : context + zeros_like(y);
    return out_->forward(mixed);
  }

  std::string describe() const override { return fmt::format("GatedMean(D {}, gate {})", width_, gate_); }

 private:
  std::int64_t width_;
  bool gate_;
  nn::Linear *value_ = nullptr, *gate_proj_ = nullptr, *out_ = nullptr;
};

// Makes the kind known to configs: from here on "layer": {"kind": "gated_mean", "gate": true}
// builds one per block.
void register_gated_mean() {
  nn::register_token_mixer("gated_mean", [](const nn::TokenMixerSpec& spec, Generator& generator) {
    nn::check_keys(spec.options, "layer '" + spec.kind + "'", {"gate"});  // an unknown key is refused, named
    const nlohmann::json gate = spec.options.value("gate", nlohmann::json(true));
    check(gate.is_boolean(), "gated_mean", "option 'gate' must be true or false, got {}", gate.dump());
    return std::unique_ptr<nn::TokenMixer>(new GatedMean(spec.width, gate.get<bool>(), generator, spec.dtype));
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s OUT_FOLDER [STEPS]\n", argv[0]);
    return 2;
  }
  if (!nn::data::fashion_mnist_available()) {
    std::fprintf(stderr, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): skipping\n");
    return 77;
  }
  const std::int64_t steps = argc == 3 ? std::atoll(argv[2]) : 30;
  register_gated_mean();

  const nlohmann::json config = {
      {"model",
       {{"variant", "custom"}, {"width", 32}, {"depth", 2}, {"heads", 2}, {"mlp_dim", 64}, {"patch", 7}, {"image", 28},
        {"channels", 1}, {"classes", 10}, {"layer", {{"kind", "gated_mean"}, {"gate", true}}}}},
      {"data", {{"dataset", "fashion_mnist"}, {"train_subset", 200}, {"test_subset", 100}}},
      {"optim", {{"optimizer", "adam"}, {"lr", 0.003}, {"schedule", "constant"}, {"weight_decay", 0}}},
      {"run",
       {{"seed", 0}, {"epochs", 100}, {"batch_size", 20}, {"eval_batch_size", 100}, {"log_every", 1},
        {"max_steps", steps}, {"checkpoint", false}, {"out", argv[1]}}}};

  nn::TrainerOptions options;
  options.overwrite = true;  // a second run into the same folder starts afresh
  nn::Trainer trainer(nn::parse_train_config(config, {}, "custom_layer"), options);
  fmt::print("blocks.0.layer = {}; {} trainable parameters\n", trainer.model().submodule("blocks.0.layer").describe(),
             trainer.model().count_parameters().trainable);
  std::vector<double> losses;
  trainer.on_record = [&](const nlohmann::json& record) {
    if (record["kind"] == "train") losses.push_back(record["loss"].get<double>());
  };
  trainer.run();

  if (losses.size() < 10) {
    std::fprintf(stderr, "custom_layer: %zu training records, expected one per step (at least 10)\n", losses.size());
    return 1;
  }
  double first = 0, last = 0;
  for (std::size_t i = 0; i < 5; ++i) first += losses[i] / 5, last += losses[losses.size() - 1 - i] / 5;
  fmt::print("gated_mean: mean training loss {:.4f} over the first 5 steps, {:.4f} over the last 5 ({} steps)\n",
             first, last, losses.size());
  if (!(last < first)) {
    std::fprintf(stderr, "custom_layer: the loss did not go down\n");
    return 1;
  }
  return 0;
}
