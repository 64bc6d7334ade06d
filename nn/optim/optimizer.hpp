// Optimisers: SGD with momentum and Adam, each with the options of the spec's big_vision chain:
//
//   g <- clip_by_global_norm(g, clip_norm)            over the gradients of trainable parameters
//   u <- lr(s) * direction(g)                         SGD: momentum buffer; Adam: m-hat / (sqrt(v-hat) + eps)
//   u <- u + weight_decay * [lr(s) if decay_scaled_by_lr] * p    for names matching decay_patterns
//   p <- p - multiplier(s) * u                        frozen names (patterns) are never updated
//
// s counts the updates already applied (the first update has s = 0). AdamW in PyTorch's sense
// is decay_scaled_by_lr = true; the configs' presets (the spec's chain among them) are in
// nn/optim/optim_config.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/named_tensors.hpp"
#include "nn/optim/schedule.hpp"

namespace mttt::nn {

struct OptimizerOptions {
  Schedule lr = constant_schedule(1e-3);
  Schedule multiplier = constant_schedule(1.0);
  double clip_norm = 0;  // 0: no clipping
  double weight_decay = 0;
  bool decay_scaled_by_lr = true;
  std::vector<std::string> decay_patterns = {"*"};
  std::vector<std::string> frozen;
};

class Optimizer {
 public:
  Optimizer(NamedTensors params, OptimizerOptions options, const char* name);
  virtual ~Optimizer() = default;

  // One update from the parameters' accumulated .grad(); parameters without a gradient keep
  // their values. Runs under NoGrad and never waits for the device, unless `check_finite`: then
  // it reads the gradients' global norm (one synchronisation) and, when it is not finite, returns
  // false having applied nothing (parameters, state and steps() stay as they were). Without the
  // check a non-finite norm applies nothing either, decided on the device, and steps() still
  // counts the step: the caller watches grad_norm_finite() and stops where it is 0.
  bool step(bool check_finite = false);
  // step() in three parts, for a caller that captures the update in a graph (tensor/graph.hpp):
  // prepare_step() copies this step's scalars (lr(s), multiplier(s), the weight decay, a
  // direction's own such as Adam's bias corrections) into a small tensor on the parameters'
  // device, one copy without waiting per dtype; update() is the step's device work alone: it
  // reads those scalars from the device and writes every parameter and slot in place, so that a
  // replay of it is the next step; finish_step() counts the step. Capture update() only once
  // every slot exists (after one step).
  void prepare_step();
  void update();
  void finish_step() { ++steps_; }
  // 1 when the last step's gradient norm was finite, else 0: a float64 scalar on the
  // parameters' device, to be read when the caller synchronises anyway.
  Tensor grad_norm_finite() const;
  void zero_grad();

  std::int64_t steps() const { return steps_; }
  // Global norm of the trainable gradients at the last step, before clipping. Read from the
  // device when called (a synchronisation): step() itself never waits for the device.
  double last_grad_norm() const;
  // lr(s) * multiplier(s) of the next update.
  double effective_lr() const;
  const NamedTensors& params() const { return params_; }
  bool is_frozen(std::size_t index) const { return frozen_[index]; }

  // Optimiser state for checkpoints: "optimizer.step" and "optimizer.<slot>.<parameter name>".
  NamedTensors state() const;
  // Restores a state; every tensor must be present with its shape and dtype (errors name it).
  void load_state(const NamedTensors& state);

 protected:
  // Returns the step direction for parameter i (before lr), updating its slots where `applied`
  // (a scalar in g's dtype, 1 or 0, on the device) is 1 and keeping them where it is 0.
  virtual Tensor direction(std::size_t i, const Tensor& g, const Tensor& applied) = 0;
  // Values of step s that direction() reads from the device (Adam: its bias corrections).
  virtual std::vector<double> direction_scalars(std::int64_t /*s*/) const { return {}; }
  // Scalar k of direction_scalars(steps()) in `dtype`, as prepare_step() left it on the device (shape {}).
  Tensor direction_scalar(DType dtype, int k) const { return step_scalar(dtype, kBaseScalars + k); }
  // Named slots per parameter ("mu", "nu", "momentum"), created lazily.
  std::vector<std::string> slot_names_;
  std::vector<std::vector<Tensor>> slots_;  // [slot][parameter]
  Tensor& slot(std::size_t s, std::size_t i);

 private:
  // The step's scalars on the device: lr(s), multiplier(s), the weight decay's factor, then the
  // direction's; one tensor per dtype of the trainable parameters.
  enum : int { kLr, kMultiplier, kDecay, kBaseScalars };
  Tensor step_scalar(DType dtype, int k) const;
  void compute_norm();
  void apply_update();

  std::vector<std::pair<DType, Tensor>> step_scalars_;
  NamedTensors params_;
  OptimizerOptions options_;
  std::vector<bool> frozen_, decayed_;
  std::int64_t steps_ = 0;
  Tensor squared_grad_norm_;  // float64 scalar on the parameters' device, kept across steps
  Tensor norm_finite_;        // 1 or 0, float64 scalar beside it: what step() applied
  bool has_norm_ = false;     // the last step had trainable gradients
  const char* name_;
};

class Sgd final : public Optimizer {
 public:
  Sgd(NamedTensors params, OptimizerOptions options, double momentum = 0.9, bool nesterov = false);

 private:
  Tensor direction(std::size_t i, const Tensor& g, const Tensor& applied) override;
  double momentum_;
  bool nesterov_;
};

class Adam final : public Optimizer {
 public:
  Adam(NamedTensors params, OptimizerOptions options, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);

 private:
  Tensor direction(std::size_t i, const Tensor& g, const Tensor& applied) override;
  // 1 - beta1^(s+1), 1 - beta2^(s+1).
  std::vector<double> direction_scalars(std::int64_t s) const override;
  double beta1_, beta2_, eps_;
};

}  // namespace mttt::nn
