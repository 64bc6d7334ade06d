#include "nn/train/train_config.hpp"

#include <functional>

#include "nn/config_values.hpp"
#include "nn/train/config_overrides.hpp"
#include "nn/train/step_graph.hpp"
#include "tensor/device.hpp"
#include "tensor/error.hpp"

namespace mttt::nn {

namespace {

// One key of the data, optim and run sections: its dotted name, how a JSON value is read into
// its field (type and range checked, naming the key), and how the field is written back.
struct Key {
  std::string name;
  std::function<void(TrainConfig&, const nlohmann::json&)> read;
  std::function<nlohmann::json(TrainConfig&)> write;
};

constexpr std::int64_t kMaxBatch = 1 << 16;  // images in one batch (a 224x224 float batch of 2^16 is 39 GB)
constexpr std::int64_t kMaxThreads = 1024;
constexpr std::int64_t kMaxImageSide = 1 << 16;

template <class Get> Key integer(std::string name, Get get, std::int64_t min, std::int64_t max) {
  using Field = std::remove_reference_t<decltype(get(std::declval<TrainConfig&>()))>;
  return {name, [=](TrainConfig& c, const nlohmann::json& v) { get(c) = static_cast<Field>(read_integer(v, name, min, max)); },
          [=](TrainConfig& c) { return nlohmann::json(get(c)); }};
}

template <class Get> Key number(std::string name, Get get, NumberRange range) {
  return {name, [=](TrainConfig& c, const nlohmann::json& v) { get(c) = read_number(v, name, range); },
          [=](TrainConfig& c) { return nlohmann::json(get(c)); }};
}

// A number that may be null: the optimiser's preset fills it (nn/optim/optim_config.hpp).
template <class Get> Key preset_number(std::string name, Get get, NumberRange range) {
  return {name,
          [=](TrainConfig& c, const nlohmann::json& v) {
            get(c) = v.is_null() ? std::nullopt : std::optional<double>(read_number(v, name + " (or null)", range));
          },
          [=](TrainConfig& c) { return get(c) ? nlohmann::json(*get(c)) : nlohmann::json(nullptr); }};
}

template <class Get> Key flag(std::string name, Get get) {
  return {name, [=](TrainConfig& c, const nlohmann::json& v) { get(c) = read_bool(v, name); },
          [=](TrainConfig& c) { return nlohmann::json(get(c)); }};
}

// A string; with `valid`, one of them.
template <class Get> Key text(std::string name, Get get, std::vector<std::string> valid = {}) {
  return {name,
          [=](TrainConfig& c, const nlohmann::json& v) {
            get(c) = valid.empty() ? read_string(v, name) : read_choice(v, name, valid);
          },
          [=](TrainConfig& c) { return nlohmann::json(get(c)); }};
}

const std::vector<Key>& keys() {
  static const std::vector<Key> table = {
      text("data.dataset", [](TrainConfig& c) -> auto& { return c.data.dataset; }, {"fashion_mnist", "image_folder"}),
      text("data.root", [](TrainConfig& c) -> auto& { return c.data.root; }),
      integer("data.train_subset", [](TrainConfig& c) -> auto& { return c.data.train_subset; }, 0, kMaxInt64),
      integer("data.test_subset", [](TrainConfig& c) -> auto& { return c.data.test_subset; }, 0, kMaxInt64),
      text("data.augment", [](TrainConfig& c) -> auto& { return c.data.augment; }, {"none", "inception_crop", "imagenet"}),
      number("data.mixup", [](TrainConfig& c) -> auto& { return c.data.mixup; }, {.min = 0}),
      integer("data.eval_resize", [](TrainConfig& c) -> auto& { return c.data.eval_resize; }, 0, kMaxImageSide),
      integer("data.threads", [](TrainConfig& c) -> auto& { return c.data.threads; }, 0, kMaxThreads),
      integer("data.max_image_pixels", [](TrainConfig& c) -> auto& { return c.data.max_image_pixels; }, 1, kMaxInt64),
      text("optim.optimizer", [](TrainConfig& c) -> auto& { return c.optim.optimizer; }, OptimConfig::optimizers()),
      number("optim.lr", [](TrainConfig& c) -> auto& { return c.optim.lr; }, {.min = 0, .min_open = true}),
      text("optim.schedule", [](TrainConfig& c) -> auto& { return c.optim.schedule; }, {"cosine", "linear", "constant"}),
      integer("optim.warmup_steps", [](TrainConfig& c) -> auto& { return c.optim.warmup_steps; }, 0, kMaxInt64),
      preset_number("optim.weight_decay", [](TrainConfig& c) -> auto& { return c.optim.weight_decay; }, {.min = 0}),
      number("optim.clip_norm", [](TrainConfig& c) -> auto& { return c.optim.clip_norm; }, {.min = 0}),
      preset_number("optim.momentum", [](TrainConfig& c) -> auto& { return c.optim.momentum; },
                    {.min = 0, .max = 1, .max_open = true}),
      number("optim.label_smoothing", [](TrainConfig& c) -> auto& { return c.optim.label_smoothing; },
             {.min = 0, .max = 1, .max_open = true}),
      {"run.seed", [](TrainConfig& c, const nlohmann::json& v) { c.run.seed = read_unsigned(v, "run.seed"); },
       [](TrainConfig& c) { return nlohmann::json(c.run.seed); }},
      integer("run.epochs", [](TrainConfig& c) -> auto& { return c.run.epochs; }, 1, 1'000'000),
      integer("run.batch_size", [](TrainConfig& c) -> auto& { return c.run.batch_size; }, 1, kMaxBatch),
      integer("run.accumulation", [](TrainConfig& c) -> auto& { return c.run.accumulation; }, 1, kMaxBatch),
      integer("run.eval_batch_size", [](TrainConfig& c) -> auto& { return c.run.eval_batch_size; }, 1, kMaxBatch),
      integer("run.log_every", [](TrainConfig& c) -> auto& { return c.run.log_every; }, 1, kMaxInt64),
      flag("run.inner_losses", [](TrainConfig& c) -> auto& { return c.run.inner_losses; }),
      text("run.out", [](TrainConfig& c) -> auto& { return c.run.out; }),
      flag("run.checkpoint", [](TrainConfig& c) -> auto& { return c.run.checkpoint; }),
      integer("run.max_steps", [](TrainConfig& c) -> auto& { return c.run.max_steps; }, 0, kMaxInt64),
      text("run.device", [](TrainConfig& c) -> auto& { return c.run.device; }),
      text("run.nonfinite", [](TrainConfig& c) -> auto& { return c.run.nonfinite; }, {"stop", "skip"}),
      flag("run.cuda_graphs", [](TrainConfig& c) -> auto& { return c.run.cuda_graphs; }),
  };
  return table;
}

// "optim.lr" -> j["optim"]["lr"]
nlohmann::json& at(nlohmann::json& j, const std::string& dotted) {
  const auto dot = dotted.find('.');
  return j[dotted.substr(0, dot)][dotted.substr(dot + 1)];
}

}  // namespace

nlohmann::json default_train_config() {
  TrainConfig defaults;
  nlohmann::json out = {{"model", ViTConfig().to_json()}};
  for (const Key& key : keys()) at(out, key.name) = key.write(defaults);
  return out;
}

std::vector<std::string> train_config_keys() {
  std::vector<std::string> out;
  for (const Key& key : keys()) out.push_back(key.name);
  return out;
}

TrainConfig parse_train_config(const nlohmann::json& config, const std::vector<std::string>& overrides,
                               const std::string& where) {
  check(config.is_object(), "config", "{}: a config is a JSON object ({{\"model\": ..., \"run\": ...}}), not {}",
        where, config.type_name());
  // The model section has its own reader (with its own defaults and checks); merge the rest.
  nlohmann::json model = config.contains("model") ? config["model"] : nlohmann::json::object();
  nlohmann::json rest = config;
  rest.erase("model");
  nlohmann::json merged = merge_with_defaults(rest, default_train_config(), where);
  parse_vit_config(model, where + ": model");  // the file's own errors, before any override
  merged["model"] = complete_model_section(model);
  for (const auto& o : overrides) apply_override(merged, o);

  TrainConfig c;
  c.model = parse_vit_config(merged["model"], where + (overrides.empty() ? ": model" : ": model (with --set)"));
  merged["model"] = c.model.to_json();
  try {
    for (const Key& key : keys()) key.read(c, at(merged, key.name));
    c.optim.apply_preset();
  } catch (const Error& e) {
    std::string message = e.what();
    if (message.rfind("[config] ", 0) == 0) message.erase(0, 9);
    fail("config", "{}: {}", where, message);
  }
  // What the preset filled is part of the run's record (checkpoints keep this).
  for (const Key& key : keys())
    if (key.name == "optim.weight_decay" || key.name == "optim.momentum") at(merged, key.name) = key.write(c);
  c.json = merged;

  check(c.data.dataset != "image_folder" || !c.data.root.empty(), "config", "{}: data.root must name the image folder", where);
  check(c.run.batch_size % c.run.accumulation == 0, "config",
        "{}: run.batch_size {} must split into run.accumulation {} equal micro-batches", where, c.run.batch_size,
        c.run.accumulation);
  Device device;
  try {
    device = parse_device(c.run.device);
  } catch (const Error& e) {
    fail("config", "{}: run.device: {}", where, e.what());
  }
  if (c.run.cuda_graphs) check_step_graph_config(device, c.run.nonfinite, where);
  return c;
}

TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_train_config(load_json_file(path), overrides, path);
}

nlohmann::json upgrade_checkpoint_config(nlohmann::json config) {
  if (!config.is_object() || !config.contains("optim") || !config["optim"].is_object()) return config;
  auto& optim = config["optim"];
  const std::string optimizer = optim.value("optimizer", std::string());
  // Before presets every key was written: momentum for every optimiser, and a weight decay that
  // `adam` ignored (the run trained without it).
  if (optimizer != "sgd" && optim.contains("momentum")) optim["momentum"] = nullptr;
  if (optimizer == "adam" && optim.contains("weight_decay")) optim["weight_decay"] = 0;
  return config;
}

}  // namespace mttt::nn
