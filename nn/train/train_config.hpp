// A training run's configuration: the model (nn/config.hpp), the data, the optimiser
// (nn/optim/optim_config.hpp) and the run itself, read from a JSON file whose every key has a
// default here, with `--set key=value` overrides. Each key of data, optim and run is declared
// once (train_config.cpp's table: name, type, range, field); the defaults, the reader and the
// checks follow from it. docs/config.md documents every key; examples/configs/ has complete files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/config.hpp"
#include "nn/data/jpeg.hpp"
#include "nn/optim/optim_config.hpp"

namespace mttt::nn {

struct DataConfig {
  std::string dataset = "fashion_mnist";  // fashion_mnist | image_folder
  std::string root;                       // image_folder: root/train/<class>/*.JPEG; fashion_mnist: IDX folder ("" = default)
  std::int64_t train_subset = 0;          // > 0: n training examples of a fixed shuffle
  std::int64_t test_subset = 0;           // > 0: likewise for the evaluation split
  std::string augment = "none";           // none | inception_crop | imagenet (crop, flip, RandAugment(2, 10))
  double mixup = 0;                       // Beta(mixup, mixup) per batch; 0: off
  int eval_resize = 0;                    // > 0: evaluation resize (short side) before the centre crop
  int threads = 0;                        // decode and augment threads; 0: all cores
  std::int64_t max_image_pixels = data::kMaxImagePixels;  // an image claiming more (width x height) is refused unread
};

struct RunConfig {
  std::uint64_t seed = 0;
  std::int64_t epochs = 1;
  std::int64_t batch_size = 64;
  std::int64_t accumulation = 1;          // micro-batches per update (batch_size must divide)
  std::int64_t eval_batch_size = 256;
  std::int64_t log_every = 10;            // steps between train records
  bool inner_losses = true;               // log TTT layers' inner losses (evaluation pass and train records)
  std::string out = "runs/run";           // metrics.jsonl, checkpoint.safetensors, plots
  bool checkpoint = true;                 // after every epoch
  std::int64_t max_steps = 0;             // > 0: stop after this many steps (smoke runs)
  std::string device = "cpu";             // cpu | thrust-host | cuda | cuda:N: where the model trains
  std::string nonfinite = "stop";         // a NaN/Inf loss or gradient: stop (naming the step) | skip (the update)
  bool cuda_graphs = false;               // capture a training step once and replay it (nn/train/step_graph.hpp)
};

struct TrainConfig {
  ViTConfig model;
  DataConfig data;
  OptimConfig optim;
  RunConfig run;
  nlohmann::json json;  // the whole config, defaults filled in and overrides applied
};

// Every key with its default (null: the optimiser's preset fills it).
nlohmann::json default_train_config();
// The dotted names of the data, optim and run keys, in the table's order.
std::vector<std::string> train_config_keys();
// Merges with the defaults (unknown keys are errors naming the valid ones), applies the
// overrides ("optim.lr=0.01"), and checks every value's type and range, naming the key.
TrainConfig parse_train_config(const nlohmann::json& config, const std::vector<std::string>& overrides,
                               const std::string& where);
TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides = {});
// A checkpoint's config as this version reads it: configs written before the optimiser presets
// held every optim key, momentum for every optimiser and a weight decay that `adam` ignored.
nlohmann::json upgrade_checkpoint_config(nlohmann::json config);

}  // namespace mttt::nn
