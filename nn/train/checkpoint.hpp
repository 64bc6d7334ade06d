// Training checkpoints in safetensors, readable by PyTorch, JAX and NumPy (docs/checkpoints.md
// lists the names):
//   <parameter name>                 every model parameter under the spec's name ("blocks.0.ln1.scale")
//   optimizer.step                   updates applied so far (int64 scalar)
//   optimizer.<slot>.<parameter>     the optimiser's state (Adam: mu, nu; SGD: momentum)
//   __metadata__                     format, step, epoch, seed, generator state, the whole config (JSON)
// Written atomically: a crash leaves the previous checkpoint whole.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/checkpoint/safetensors.hpp"
#include "nn/module.hpp"
#include "nn/optim/optimizer.hpp"

namespace mttt::nn {

inline constexpr const char* kCheckpointFormat = "mttt-checkpoint-1";

struct CheckpointInfo {
  std::int64_t step = 0;
  std::int64_t skipped_steps = 0;  // steps whose update was skipped (run.nonfinite = skip): step - skipped = updates
  nlohmann::json config;
  std::uint64_t seed = 0;
};

// Refuses (throwing before anything is written, naming the tensor) a parameter or optimiser
// state holding NaN or Inf: a good checkpoint is never replaced by a diverged one.
void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer, const CheckpointInfo& info);

struct Checkpoint {
  CheckpointInfo info;
  SafetensorsFile file;
};

// Reads and checks the format; a file that is not an mttt checkpoint is refused, naming it.
Checkpoint read_checkpoint(const std::string& path);

// Puts the checkpoint's parameters into `model` (and its state into `optimizer`): a missing or
// unexpected parameter, or one of another shape or dtype, is refused naming the tensor and the
// shapes or dtypes (a conversion must be made explicitly, before restoring).
void restore_checkpoint(const Checkpoint& checkpoint, Module& model, Optimizer* optimizer);

}  // namespace mttt::nn
