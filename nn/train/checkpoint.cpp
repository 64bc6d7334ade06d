#include "nn/train/checkpoint.hpp"

#include "tensor/tensor.hpp"

namespace mttt::nn {

void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer, const CheckpointInfo& info) {
  NamedTensors tensors = model.named_parameters();
  if (optimizer)
    for (auto& entry : optimizer->state()) tensors.push_back(entry);
  for (const auto& [name, t] : tensors)
    check(!is_floating(t.dtype()) || all_finite(t.detach()), "checkpoint",
          "{}: not written: '{}' holds NaN or Inf at step {} (the previous checkpoint is kept)", path, name, info.step);
  std::map<std::string, std::string> metadata = {
      {"format", kCheckpointFormat},
      {"step", std::to_string(info.step)},
      {"skipped_steps", std::to_string(info.skipped_steps)},
      {"seed", std::to_string(info.seed)},
      {"config", info.config.dump()},
  };
  save_safetensors(path, tensors, metadata);
}

Checkpoint read_checkpoint(const std::string& path) {
  Checkpoint c;
  c.file = load_safetensors(path);
  auto meta = [&](const char* key) -> const std::string& {
    auto it = c.file.metadata.find(key);
    check(it != c.file.metadata.end(), "checkpoint", "{}: no '{}' in the metadata; not an mttt checkpoint", path, key);
    return it->second;
  };
  check(meta("format") == kCheckpointFormat, "checkpoint", "{}: format '{}', expected '{}'", path, meta("format"),
        kCheckpointFormat);
  try {
    c.info.step = std::stoll(meta("step"));
    c.info.seed = std::stoull(meta("seed"));
    if (c.file.metadata.count("skipped_steps")) c.info.skipped_steps = std::stoll(c.file.metadata.at("skipped_steps"));
    c.info.config = nlohmann::json::parse(meta("config"));
  } catch (const mttt::Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("checkpoint", "{}: malformed metadata ({})", path, e.what());
  }
  return c;
}

void restore_checkpoint(const Checkpoint& c, Module& model, Optimizer* optimizer) {
  NamedTensors params, state;
  for (const auto& [name, t] : c.file.tensors) (name.rfind("optimizer.", 0) == 0 ? state : params).emplace_back(name, t);
  const NamedTensors expected = model.named_parameters();
  for (const auto& [name, want] : expected) {
    const Tensor* have = nullptr;
    for (const auto& [k, t] : params)
      if (k == name) have = &t;
    check(have != nullptr, "checkpoint", "{}: parameter '{}' {} is missing", c.file.path, name, to_string(want.shape()));
    check(have->shape() == want.shape(), "checkpoint", "{}: parameter '{}' is {} in the checkpoint but {} in the model",
          c.file.path, name, to_string(have->shape()), to_string(want.shape()));
    check(have->dtype() == want.dtype(), "checkpoint", "{}: parameter '{}' is {} in the checkpoint but {} in the model",
          c.file.path, name, to_string(have->dtype()), to_string(want.dtype()));
  }
  for (const auto& [name, t] : params) {
    bool known = false;
    for (const auto& [k, want] : expected) known = known || k == name;
    check(known, "checkpoint", "{}: tensor '{}' {} is not a parameter of this model", c.file.path, name,
          to_string(t.shape()));
  }
  model.load_tensors(params);
  if (optimizer) optimizer->load_state(state);
}

}  // namespace mttt::nn
