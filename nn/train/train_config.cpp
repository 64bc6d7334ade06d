#include "nn/train/train_config.hpp"

#include "nn/train/config_overrides.hpp"
#include "tensor/device.hpp"
#include "tensor/error.hpp"

namespace mttt::nn {

nlohmann::json default_train_config() {
  DataConfig d;
  OptimConfig o;
  RunConfig r;
  return {
      {"model", ViTConfig().to_json()},
      {"data",
       {{"dataset", d.dataset}, {"root", d.root}, {"train_subset", d.train_subset}, {"test_subset", d.test_subset},
        {"augment", d.augment}, {"mixup", d.mixup}, {"eval_resize", d.eval_resize}, {"threads", d.threads},
        {"max_image_pixels", d.max_image_pixels}}},
      {"optim",
       {{"optimizer", o.optimizer}, {"lr", o.lr}, {"schedule", o.schedule}, {"warmup_steps", o.warmup_steps},
        {"weight_decay", o.weight_decay}, {"clip_norm", o.clip_norm}, {"momentum", o.momentum},
        {"label_smoothing", o.label_smoothing}}},
      {"run",
       {{"seed", r.seed}, {"epochs", r.epochs}, {"batch_size", r.batch_size}, {"accumulation", r.accumulation},
        {"eval_batch_size", r.eval_batch_size}, {"log_every", r.log_every}, {"inner_losses", r.inner_losses},
        {"out", r.out}, {"checkpoint", r.checkpoint}, {"max_steps", r.max_steps}, {"device", r.device},
        {"nonfinite", r.nonfinite}}},
  };
}

namespace {

template <class T> T get(const nlohmann::json& j, const char* section, const char* key, const std::string& where) {
  try {
    return j.at(section).at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    fail("config", "{}: '{}.{}' has the wrong type ({})", where, section, key, j.at(section).at(key).dump());
  }
}

}  // namespace

TrainConfig parse_train_config(const nlohmann::json& config, const std::vector<std::string>& overrides,
                               const std::string& where) {
  check(config.is_object(), "config", "{}: a config is a JSON object ({{\"model\": ..., \"run\": ...}}), not {}",
        where, config.type_name());
  // The model section has its own reader (with its own defaults and checks); merge the rest.
  nlohmann::json defaults = default_train_config();
  nlohmann::json model = config.contains("model") ? config["model"] : nlohmann::json::object();
  nlohmann::json rest = config;
  rest.erase("model");
  nlohmann::json merged = merge_with_defaults(rest, defaults, where);
  merged["model"] = parse_vit_config(model, where + ": model").to_json();
  for (const auto& o : overrides) apply_override(merged, o);

  TrainConfig c;
  c.json = merged;
  c.model = parse_vit_config(merged["model"], where + ": model");
  c.data.dataset = get<std::string>(merged, "data", "dataset", where);
  c.data.root = get<std::string>(merged, "data", "root", where);
  c.data.train_subset = get<std::int64_t>(merged, "data", "train_subset", where);
  c.data.test_subset = get<std::int64_t>(merged, "data", "test_subset", where);
  c.data.augment = get<std::string>(merged, "data", "augment", where);
  c.data.mixup = get<double>(merged, "data", "mixup", where);
  c.data.eval_resize = get<int>(merged, "data", "eval_resize", where);
  c.data.threads = get<int>(merged, "data", "threads", where);
  c.data.max_image_pixels = get<std::int64_t>(merged, "data", "max_image_pixels", where);
  c.optim.optimizer = get<std::string>(merged, "optim", "optimizer", where);
  c.optim.lr = get<double>(merged, "optim", "lr", where);
  c.optim.schedule = get<std::string>(merged, "optim", "schedule", where);
  c.optim.warmup_steps = get<std::int64_t>(merged, "optim", "warmup_steps", where);
  c.optim.weight_decay = get<double>(merged, "optim", "weight_decay", where);
  c.optim.clip_norm = get<double>(merged, "optim", "clip_norm", where);
  c.optim.momentum = get<double>(merged, "optim", "momentum", where);
  c.optim.label_smoothing = get<double>(merged, "optim", "label_smoothing", where);
  c.run.seed = get<std::uint64_t>(merged, "run", "seed", where);
  c.run.epochs = get<std::int64_t>(merged, "run", "epochs", where);
  c.run.batch_size = get<std::int64_t>(merged, "run", "batch_size", where);
  c.run.accumulation = get<std::int64_t>(merged, "run", "accumulation", where);
  c.run.eval_batch_size = get<std::int64_t>(merged, "run", "eval_batch_size", where);
  c.run.log_every = get<std::int64_t>(merged, "run", "log_every", where);
  c.run.inner_losses = get<bool>(merged, "run", "inner_losses", where);
  c.run.out = get<std::string>(merged, "run", "out", where);
  c.run.checkpoint = get<bool>(merged, "run", "checkpoint", where);
  c.run.max_steps = get<std::int64_t>(merged, "run", "max_steps", where);
  c.run.device = get<std::string>(merged, "run", "device", where);
  c.run.nonfinite = get<std::string>(merged, "run", "nonfinite", where);

  auto one_of = [&](const std::string& value, const char* key, std::initializer_list<const char*> valid) {
    for (const char* v : valid)
      if (value == v) return;
    std::string list;
    for (const char* v : valid) list += (list.empty() ? "" : ", ") + std::string(v);
    fail("config", "{}: {} '{}' is not one of {}", where, key, value, list);
  };
  one_of(c.data.dataset, "data.dataset", {"fashion_mnist", "image_folder"});
  one_of(c.data.augment, "data.augment", {"none", "inception_crop", "imagenet"});
  one_of(c.optim.optimizer, "optim.optimizer", {"big_vision", "adam", "adamw", "sgd"});
  one_of(c.optim.schedule, "optim.schedule", {"cosine", "linear", "constant"});
  one_of(c.run.nonfinite, "run.nonfinite", {"stop", "skip"});
  check(c.data.max_image_pixels >= 1, "config", "{}: data.max_image_pixels must be positive, got {}", where,
        c.data.max_image_pixels);
  check(c.data.dataset != "image_folder" || !c.data.root.empty(), "config", "{}: data.root must name the image folder", where);
  check(c.run.epochs >= 1 && c.run.batch_size >= 1 && c.run.eval_batch_size >= 1 && c.run.log_every >= 1, "config",
        "{}: run.epochs, run.batch_size, run.eval_batch_size and run.log_every must be positive", where);
  check(c.run.accumulation >= 1 && c.run.batch_size % c.run.accumulation == 0, "config",
        "{}: run.batch_size {} must split into run.accumulation {} equal micro-batches", where, c.run.batch_size,
        c.run.accumulation);
  try {
    parse_device(c.run.device);
  } catch (const Error& e) {
    fail("config", "{}: run.device: {}", where, e.what());
  }
  check(c.optim.label_smoothing >= 0 && c.optim.label_smoothing < 1, "config",
        "{}: optim.label_smoothing must be in [0, 1)", where);
  return c;
}

TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_train_config(load_json_file(path), overrides, path);
}

}  // namespace mttt::nn
