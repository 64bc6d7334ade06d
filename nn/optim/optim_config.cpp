#include "nn/optim/optim_config.hpp"

#include <fmt/format.h>

#include "tensor/error.hpp"

namespace mttt::nn {

namespace {

struct Preset {
  const char* name;
  std::optional<double> weight_decay;  // none: the optimiser has no weight decay
  bool decay_scaled_by_lr;
  bool momentum;  // takes optim.momentum (SGD)
};

constexpr double kDefaultDecay = 1e-4, kDefaultMomentum = 0.9;

const Preset& preset(const std::string& name) {
  static const Preset presets[] = {{"big_vision", kDefaultDecay, false, false},
                                   {"adamw", kDefaultDecay, true, false},
                                   {"adam", std::nullopt, true, false},
                                   {"sgd", kDefaultDecay, true, true}};
  for (const auto& p : presets)
    if (name == p.name) return p;
  fail("config", "optim.optimizer '{}' is not one of {}", name, fmt::join(OptimConfig::optimizers(), ", "));
}

}  // namespace

const std::vector<std::string>& OptimConfig::optimizers() {
  static const std::vector<std::string> names = {"big_vision", "adam", "adamw", "sgd"};
  return names;
}

void OptimConfig::apply_preset() {
  const Preset& p = preset(optimizer);
  if (!p.weight_decay)
    check(weight_decay.value_or(0) == 0, "config",
          "optim.weight_decay {} does nothing with optim.optimizer '{}', which has no weight decay: use 'adamw' "
          "(decay times lr) or 'big_vision' (decoupled), or set it to 0",
          weight_decay.value_or(0), optimizer);
  weight_decay = weight_decay.value_or(p.weight_decay.value_or(0));
  if (!p.momentum)
    check(!momentum.has_value(), "config", "optim.momentum {} applies to optim.optimizer 'sgd' only, not '{}'",
          momentum.value_or(0), optimizer);
  else
    momentum = momentum.value_or(kDefaultMomentum);
}

std::unique_ptr<Optimizer> make_optimizer(const OptimConfig& config, NamedTensors params,
                                          std::vector<std::string> frozen, std::int64_t total_steps) {
  const Preset& p = preset(config.optimizer);
  check(config.weight_decay.has_value() && (config.momentum.has_value() == p.momentum), "optim",
        "make_optimizer needs an OptimConfig with apply_preset() done");
  OptimizerOptions o;
  o.lr = constant_schedule(config.lr);
  o.multiplier = make_schedule(config.schedule, 1.0, config.warmup_steps, total_steps);
  o.clip_norm = config.clip_norm;
  o.weight_decay = *config.weight_decay;
  o.decay_scaled_by_lr = p.decay_scaled_by_lr;
  o.decay_patterns = {"*.kernel"};
  o.frozen = std::move(frozen);
  if (p.momentum) return std::make_unique<Sgd>(std::move(params), std::move(o), *config.momentum);
  return std::make_unique<Adam>(std::move(params), std::move(o));
}

}  // namespace mttt::nn
