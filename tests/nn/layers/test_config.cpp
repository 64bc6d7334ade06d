// Config files: the model section (presets, custom sizes, the layer slot), every numeric key's
// type and range, duplicate keys, every key of data, optim, run and the TTT layer options
// reaching what it configures, and docs/config.md listing exactly the keys the code reads.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

#include "mttt/ttt_mixer.hpp"
#include "nn/config.hpp"
#include "nn/config_values.hpp"
#include "nn/train/config_overrides.hpp"
#include "nn/train/train_config.hpp"
#include "tensor/tensor.hpp"

using namespace mttt;
using namespace mttt::nn;
using nlohmann::json;

TEST_CASE("presets and the spec's example configs") {
  ViTConfig ti = parse_vit_config(json::parse(R"({"variant": "ti", "patch": 1, "image": 224, "channels": 3,
      "classes": 1000, "layer": "linear_attention", "posemb": "learned"})"));
  CHECK(ti.width == 192);
  CHECK(ti.depth == 12);
  CHECK(ti.heads == 3);
  CHECK(ti.mlp_dim == 768);
  CHECK(ti.tokens() == 224 * 224);
  CHECK(ti.layer == "linear_attention");
  CHECK(ti.posemb == PositionEmbeddingKind::learned);
  CHECK(ti.name() == "ViT-Ti/1");
  ViTConfig s = parse_vit_config(json::parse(R"({"variant": "small"})"));
  CHECK(s.width == 384);
  CHECK(s.heads == 6);
  CHECK(s.mlp_dim == 1536);
  CHECK(s.tokens() == 196);
  CHECK(s.name() == "ViT-S/16");
  CHECK(s.posemb == PositionEmbeddingKind::sincos);
  // A round trip through JSON.
  ViTConfig back = parse_vit_config(s.to_json());
  CHECK(back.to_json() == s.to_json());
}

TEST_CASE("custom sizes, rectangular images, layer options, dtype and frozen patterns") {
  ViTConfig c = parse_vit_config(json::parse(R"({"variant": "custom", "width": 64, "depth": 2, "heads": 4,
      "mlp_dim": 128, "patch": 4, "image": [28, 32], "channels": 1, "classes": 10,
      "layer": {"kind": "mttt_mlp", "steps": 4}, "dtype": "float64", "frozen": ["blocks.*.layer.inner.*"],
      "pre_logits": false})"));
  CHECK(c.width == 64);
  CHECK(c.grid_rows() == 7);
  CHECK(c.grid_cols() == 8);
  CHECK(c.layer == "mttt_mlp");
  CHECK(c.layer_options == json{{"steps", 4}});
  CHECK(c.dtype == DType::float64);
  CHECK(c.frozen == std::vector<std::string>{"blocks.*.layer.inner.*"});
  CHECK_FALSE(c.pre_logits);
  CHECK(parse_vit_config(c.to_json()).to_json() == c.to_json());
  // Sizes without a variant start from ViT-Tiny's and make a custom model; a named preset and
  // sizes that disagree are refused.
  CHECK(parse_vit_config(json::parse(R"({"depth": 6})")).variant == "custom");
  CHECK(parse_vit_config(json::parse(R"({"depth": 6})")).width == 192);
  CHECK(parse_vit_config(json::parse(R"({"variant": "ti", "depth": 12})")).variant == "ti");
  REQUIRE_THROWS_WITH(parse_vit_config(json::parse(R"({"variant": "ti", "depth": 6})")),
                      Catch::Contains("variant 'ti' has depth 12, but model.depth is 6"));
}

TEST_CASE("config errors name the key and the valid choices") {
  auto error = [](const char* text) {
    try {
      parse_vit_config(json::parse(text), "model");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error(R"({"widht": 3})"),
             Catch::Contains("unknown key 'widht'") && Catch::Contains("valid keys: variant, width"));
  CHECK_THAT(error(R"({"variant": "base"})"),
             Catch::Contains("'base' is unknown; valid: ti (tiny), s (small), custom"));
  CHECK_THAT(error(R"({"variant": "custom", "width": 64})"), Catch::Contains("'depth' is missing"));
  CHECK_THAT(error(R"({"patch": "16"})"), Catch::Contains("model.patch must be an integer in [1, 1048576], got \"16\""));
  CHECK_THAT(error(R"({"patch": 0})"), Catch::Contains("model.patch must be an integer in [1, "));
  CHECK_THAT(error(R"({"depth": 1.5})"), Catch::Contains("model.depth must be an integer") && Catch::Contains("got 1.5"));
  CHECK_THAT(error(R"({"image": 1e20})"), Catch::Contains("model.image must be an integer") && Catch::Contains("1e+20"));
  CHECK_THAT(error(R"({"patch": 15})"), Catch::Contains("image 224x224 does not split into 15x15 patches"));
  CHECK_THAT(error(R"({"heads": 5})"), Catch::Contains("width 192 is not divisible by heads 5"));
  CHECK_THAT(error(R"({"image": [1, 2, 3]})"), Catch::Contains("[height, width]"));
  CHECK_THAT(error(R"({"layer": {"steps": 2}})"), Catch::Contains("needs a 'kind'"));
  CHECK_THAT(error(R"({"layer": 3})"), Catch::Contains("must be a string"));
  CHECK_THAT(error(R"({"posemb": "rope"})"), Catch::Contains("valid: sincos, learned"));
  CHECK_THAT(error(R"({"dtype": "bfloat16"})"), Catch::Contains("valid: float32, float64"));
  CHECK_THAT(error(R"({"frozen": "head.*"})"), Catch::Contains("list of name patterns"));
  CHECK_THAT(error(R"({"pre_logits": 1})"), Catch::Contains("true or false"));
  CHECK_THAT(error(R"({"width": 190, "heads": 5})"), Catch::Contains("divisible by 4"));
}

namespace {

std::string train_error(const std::vector<std::string>& overrides, json config = json::object()) {
  try {
    parse_train_config(config, overrides, "run.json");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("--set model.variant changes the sizes; explicit sizes and a preset never silently disagree") {
  json small = {{"model", {{"variant", "s"}, {"patch", 16}}}};
  TrainConfig ti = parse_train_config(small, {"model.variant=ti"}, "run.json");
  CHECK(ti.model.width == 192);
  CHECK(ti.model.heads == 3);
  CHECK(ti.model.name() == "ViT-Ti/16");
  CHECK(ti.json["model"]["width"] == 192);  // the record holds the sizes built
  CHECK(parse_train_config(small, {"model.variant=custom", "model.width=64", "model.depth=6", "model.heads=2",
                                   "model.mlp_dim=128"}, "run.json").model.depth == 6);
  CHECK_THAT(train_error({"model.variant=custom", "model.depth=6"}, small), Catch::Contains("'width' is missing"));
  CHECK_THAT(train_error({"model.depth=6"}, small), Catch::Contains("variant 's' has depth 12, but") &&
                                                        Catch::Contains("model (with --set).depth is 6"));
  // A checkpoint's model section (every size written) reads back as the same model.
  CHECK(parse_train_config(ti.json, {}, "checkpoint").model.to_json() == ti.model.to_json());
}

TEST_CASE("load_vit_config reads the model section of a file") {
  const std::string path = "test_config_model.json";
  {
    std::ofstream out(path);
    out << R"({"model": {"variant": "s"}, "train": {"steps": 10}})";
  }
  CHECK(load_vit_config(path).width == 384);
  {
    std::ofstream out(path);
    out << R"({"train": {}})";
  }
  REQUIRE_THROWS_WITH(load_vit_config(path), Catch::Contains("needs a \"model\" section"));
  {
    std::ofstream out(path);
    out << R"({"model": {)";
  }
  REQUIRE_THROWS_WITH(load_vit_config(path), Catch::Contains("not valid JSON"));
  std::remove(path.c_str());
  REQUIRE_THROWS_WITH(load_vit_config("no/such/file.json"), Catch::Contains("cannot open no/such/file.json"));
}


TEST_CASE("numeric keys: their type and range, refused with the key and the value") {
  CHECK_THAT(train_error({"run.batch_size=1.5"}),
             Catch::Contains("run.json") && Catch::Contains("run.batch_size must be an integer in [1, 65536], got 1.5"));
  CHECK_THAT(train_error({"run.batch_size=1e20"}), Catch::Contains("run.batch_size") && Catch::Contains("got 1e+20"));
  CHECK_THAT(train_error({"run.batch_size=1000000000000"}), Catch::Contains("got 1000000000000"));
  CHECK_THAT(train_error({"run.batch_size=9223372036854775807"}), Catch::Contains("got 9223372036854775807"));
  CHECK_THAT(train_error({"run.batch_size=18446744073709551615"}), Catch::Contains("got 18446744073709551615"));
  CHECK(parse_train_config(json::object(), {"run.batch_size=1e2"}, "run.json").run.batch_size == 100);
  CHECK_THAT(train_error({"run.seed=-5"}), Catch::Contains("run.seed must be an integer in [0, 18446744073709551615]"));
  CHECK(parse_train_config(json::object(), {"run.seed=18446744073709551615"}, "t").run.seed == 18446744073709551615ULL);
  CHECK(parse_train_config(json{{"run", {{"seed", std::int64_t{3}}}}}, {}, "t").run.seed == 3);  // signed in code
  CHECK_THAT(train_error({}, json{{"run", {{"seed", std::int64_t{-3}}}}}), Catch::Contains("run.seed"));
  CHECK_THAT(train_error({"data.train_subset=-10"}), Catch::Contains("data.train_subset") && Catch::Contains("got -10"));
  CHECK_THAT(train_error({"data.test_subset=-1"}), Catch::Contains("data.test_subset"));
  CHECK_THAT(train_error({"run.max_steps=-3"}), Catch::Contains("run.max_steps") && Catch::Contains("got -3"));
  CHECK_THAT(train_error({"run.epochs=0"}), Catch::Contains("run.epochs"));
  CHECK_THAT(train_error({"optim.lr=-1"}), Catch::Contains("optim.lr must be a finite number in (0, inf], got -1"));
  CHECK_THAT(train_error({"optim.lr=0"}), Catch::Contains("optim.lr"));
  CHECK_THAT(train_error({"optim.lr=\"fast\""}), Catch::Contains("optim.lr") && Catch::Contains("\"fast\""));
  CHECK_THAT(train_error({"optim.warmup_steps=-100"}), Catch::Contains("optim.warmup_steps") && Catch::Contains("-100"));
  CHECK_THAT(train_error({"optim.clip_norm=-1"}), Catch::Contains("optim.clip_norm"));
  CHECK_THAT(train_error({"optim.label_smoothing=1"}), Catch::Contains("optim.label_smoothing must be a finite number in [0, 1)"));
  CHECK_THAT(train_error({"data.mixup=-0.2"}), Catch::Contains("data.mixup"));
  CHECK_THAT(train_error({"data.threads=100000"}), Catch::Contains("data.threads must be an integer in [0, 1024]"));
  CHECK_THAT(train_error({"data.eval_resize=2.5"}), Catch::Contains("data.eval_resize"));
  CHECK_THAT(train_error({"run.checkpoint=1"}), Catch::Contains("run.checkpoint must be true or false, got 1"));
  CHECK_THAT(train_error({"run.accumulation=3"}), Catch::Contains("run.batch_size 64 must split into run.accumulation 3"));
  CHECK_THAT(train_error({}, json::array()), Catch::Contains("a config is a JSON object") && Catch::Contains("not array"));
  // An override that is not JSON is a string, which JSON holds in UTF-8 (found by fuzz_config:
  // nlohmann threw from dump() in a message, and would have when the checkpoint was written).
  CHECK_THAT(train_error({"model.image=[32,\xf4" "64]"}), Catch::Contains("model.image") && Catch::Contains("not valid UTF-8"));
  CHECK_THAT(train_error({"run.out=runs/\xc3"}), Catch::Contains("run.out") && Catch::Contains("not valid UTF-8"));
  CHECK(parse_train_config(json::object(), {"run.out=runs/\xc3\xa9t\xc3\xa9"}, "t").run.out == "runs/\xc3\xa9t\xc3\xa9");
}

TEST_CASE("duplicate JSON keys are refused, naming the key's path") {
  const std::string path = "test_config_duplicates.json";
  {
    std::ofstream out(path);
    out << R"({"run": {"epochs": 2, // a comment
                       "epochs": 3}, "model": {"layer": {"kind": "mttt_mlp", "steps": 1}}})";
  }
  REQUIRE_THROWS_WITH(load_json_file(path), Catch::Contains(path) && Catch::Contains("duplicate key 'run.epochs'"));
  {
    std::ofstream out(path);
    out << R"({"model": {"layer": {"kind": "mttt_mlp", "steps": 1, "steps": 2}}})";
  }
  REQUIRE_THROWS_WITH(load_vit_config(path), Catch::Contains("duplicate key 'model.layer.steps'"));
  {
    std::ofstream out(path);
    out << R"({"model": {"width": 64}, "run": {"epochs": 2}})";
  }
  CHECK(load_json_file(path)["run"]["epochs"] == 2);  // the same key in two objects is fine
  std::remove(path.c_str());
  json config = default_train_config();
  REQUIRE_THROWS_WITH(apply_override(config, R"(model.layer={"kind": "mttt_mlp", "sgd": true, "sgd": false})"),
                      Catch::Contains("duplicate key 'sgd'"));
}

TEST_CASE("every key of data, optim and run reaches its typed field") {
  using Check = std::function<bool(const TrainConfig&)>;
  // Each key with a non-default value, and where that value must arrive.
  const std::vector<std::tuple<std::string, std::string, Check>> cases = {
      {"data.dataset", "\"image_folder\"", [](auto& c) { return c.data.dataset == "image_folder"; }},
      {"data.root", "\"/data/x\"", [](auto& c) { return c.data.root == "/data/x"; }},
      {"data.train_subset", "100", [](auto& c) { return c.data.train_subset == 100; }},
      {"data.test_subset", "50", [](auto& c) { return c.data.test_subset == 50; }},
      {"data.augment", "\"imagenet\"", [](auto& c) { return c.data.augment == "imagenet"; }},
      {"data.mixup", "0.2", [](auto& c) { return c.data.mixup == 0.2; }},
      {"data.eval_resize", "256", [](auto& c) { return c.data.eval_resize == 256; }},
      {"data.threads", "3", [](auto& c) { return c.data.threads == 3; }},
      {"data.max_image_pixels", "1000", [](auto& c) { return c.data.max_image_pixels == 1000; }},
      {"optim.optimizer", "\"sgd\"", [](auto& c) { return c.optim.optimizer == "sgd"; }},
      {"optim.lr", "0.5", [](auto& c) { return c.optim.lr == 0.5; }},
      {"optim.schedule", "\"linear\"", [](auto& c) { return c.optim.schedule == "linear"; }},
      {"optim.warmup_steps", "7", [](auto& c) { return c.optim.warmup_steps == 7; }},
      {"optim.weight_decay", "0.25", [](auto& c) { return c.optim.weight_decay == 0.25; }},
      {"optim.clip_norm", "0", [](auto& c) { return c.optim.clip_norm == 0; }},
      {"optim.momentum", "0.5", [](auto& c) { return c.optim.momentum == 0.5; }},
      {"optim.label_smoothing", "0.1", [](auto& c) { return c.optim.label_smoothing == 0.1; }},
      {"run.seed", "12", [](auto& c) { return c.run.seed == 12; }},
      {"run.epochs", "3", [](auto& c) { return c.run.epochs == 3; }},
      {"run.batch_size", "32", [](auto& c) { return c.run.batch_size == 32; }},
      {"run.accumulation", "2", [](auto& c) { return c.run.accumulation == 2; }},
      {"run.eval_batch_size", "17", [](auto& c) { return c.run.eval_batch_size == 17; }},
      {"run.log_every", "5", [](auto& c) { return c.run.log_every == 5; }},
      {"run.inner_losses", "false", [](auto& c) { return !c.run.inner_losses; }},
      {"run.out", "\"runs/x\"", [](auto& c) { return c.run.out == "runs/x"; }},
      {"run.checkpoint", "false", [](auto& c) { return !c.run.checkpoint; }},
      {"run.max_steps", "9", [](auto& c) { return c.run.max_steps == 9; }},
      {"run.device", "\"thrust-host\"", [](auto& c) { return c.run.device == "thrust-host"; }},
      {"run.nonfinite", "\"skip\"", [](auto& c) { return c.run.nonfinite == "skip"; }},
      {"run.cuda_graphs", "true", [](auto& c) { return c.run.cuda_graphs; }},
  };
  std::vector<std::string> tested;
  for (const auto& [key, value, arrived] : cases) {
    CAPTURE(key, value);
    std::vector<std::string> overrides = {key + "=" + value};
    if (key == "optim.momentum") overrides.push_back("optim.optimizer=\"sgd\"");
    if (key == "data.dataset") overrides.push_back("data.root=\"/data/x\"");
    if (key == "run.cuda_graphs") overrides.push_back("run.device=\"thrust-host\"");
    const TrainConfig defaults = parse_train_config(json::object(), {}, "test");
    CHECK_FALSE(arrived(defaults));
    CHECK(arrived(parse_train_config(json::object(), overrides, "test")));
    tested.push_back(key);
  }
  CHECK(tested == train_config_keys());  // a new key needs a row here
}

namespace {

// The keys that the first table under a heading of docs/config.md lists in its first column.
std::set<std::string> documented_keys(const std::string& heading_start) {
  const char* root = std::getenv("MTTT_SOURCE_ROOT");
  REQUIRE(root != nullptr);  // set by tests/meson.build
  std::ifstream in(std::string(root) + "/docs/config.md");
  REQUIRE(in.good());
  std::set<std::string> keys;
  std::string line;
  bool inside = false, in_table = false;
  const std::regex row(R"(^\| (`[a-z_.0-9]+`(, `[a-z_.0-9]+`)*) \|)"), key(R"(`([a-z_.0-9]+)`)");
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) inside = line.rfind(heading_start, 0) == 0;
    if (in_table && line.rfind("|", 0) != 0) inside = in_table = false;  // the first table ended
    in_table = in_table || (inside && line.rfind("|", 0) == 0);
    std::smatch m;
    if (!inside || !std::regex_search(line, m, row)) continue;
    const std::string cell = m[1];
    for (auto it = std::sregex_iterator(cell.begin(), cell.end(), key); it != std::sregex_iterator(); ++it)
      keys.insert((*it)[1]);
  }
  return keys;
}

}  // namespace

TEST_CASE("docs/config.md documents exactly the keys the code reads") {
  const auto train = train_config_keys();
  CHECK(documented_keys("## `data`, `optim`, `run`") == std::set<std::string>(train.begin(), train.end()));
  const json model = ViTConfig().to_json();
  std::set<std::string> model_keys;
  for (const auto& [k, v] : model.items()) model_keys.insert(k);
  CHECK(documented_keys("## `model`") == model_keys);
  const auto& layer = ttt::TTTOptions::config_keys();
  CHECK(documented_keys("### TTT layer options") == std::set<std::string>(layer.begin(), layer.end()));
}

namespace {

// What a TTT layer made from `options` is: its parameters (names, values, frozen or not) and
// its output on a fixed input, in one list of numbers and names to compare.
std::vector<std::string> layer_signature(const std::string& kind, const json& options) {
  ttt::register_ttt_mixers();
  Generator gen(3);
  auto layer = make_token_mixer(
      {.kind = kind, .width = 8, .heads = 2, .tokens = 6, .dtype = DType::float64, .options = options}, gen);
  std::vector<std::string> out;
  for (const auto& [name, t] : layer->named_parameters())
    out.push_back(fmt::format("{} {} {}", name, layer->is_frozen(name), fmt::join(t.to_vector<double>(), ",")));
  Generator input(4);
  Tensor z = layer->forward(uniform({2, 6, 8}, -1, 1, {DType::float64}, &input));
  for (double v : z.to_vector<double>()) out.push_back(fmt::format("{:.17g}", v));
  return out;
}

}  // namespace

TEST_CASE("every TTT layer option reaches the layer: a non-default value changes it") {
  // (kind, options, the options compared against)
  const std::vector<std::tuple<std::string, json, json>> cases = {
      {"mttt_mlp", {{"steps", 2}}, json::object()},
      {"mttt_mlp", {{"eta", 0.5}}, json::object()},
      {"mttt_mlp", {{"steps", 2}, {"eta", {1.0, 0.25}}}, {{"steps", 2}}},
      {"mttt_mlp", {{"steps", 2}, {"sgd", true}}, {{"steps", 2}}},
      {"mttt_mlp", {{"decoder_ln", false}}, json::object()},
      {"mttt_mlp", {{"train_w0", false}}, json::object()},
      {"mttt_mlp", {{"init", "paper"}}, json::object()},
      {"mttt_linear", {{"decoder_ln", true}}, json::object()},
      {"mttt_linear", {{"train_w0", true}}, json::object()},
      {"mttt_linear", {{"steps", 3}}, json::object()},
  };
  std::set<std::string> tried;
  for (const auto& [kind, options, base] : cases) {
    CAPTURE(kind, options.dump());
    CHECK(layer_signature(kind, options) != layer_signature(kind, base));
    for (const auto& [k, v] : options.items()) tried.insert(k);
  }
  const auto& keys = ttt::TTTOptions::config_keys();
  CHECK(tried == std::set<std::string>(keys.begin(), keys.end()));
}

TEST_CASE("TTT layer options: types and ranges, refused naming model.layer.<key>") {
  ttt::register_ttt_mixers();
  auto error = [](const json& options, std::int64_t tokens = 6) {
    Generator gen(1);
    try {
      make_token_mixer({.kind = "mttt_mlp", .width = 8, .heads = 2, .tokens = tokens, .options = options}, gen);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error({{"steps", 2.7}}), Catch::Contains("model.layer.steps must be an integer") && Catch::Contains("2.7"));
  CHECK_THAT(error({{"steps", 0}}), Catch::Contains("model.layer.steps"));
  CHECK_THAT(error({{"steps", 2}, {"eta", {1.0}}}), Catch::Contains("model.layer.eta has 1 values for model.layer.steps = 2"));
  CHECK_THAT(error({{"eta", -1}}), Catch::Contains("model.layer.eta"));
  CHECK_THAT(error({{"eta", "big"}}), Catch::Contains("model.layer.eta"));
  CHECK_THAT(error({{"sgd", 1}}), Catch::Contains("model.layer.sgd must be true or false"));
  CHECK_THAT(error({{"init", "xavier"}}), Catch::Contains("model.layer.init 'xavier' is not one of fixed, paper"));
  CHECK_THAT(error({{"stesp", 2}}), Catch::Contains("model.layer (mttt_mlp): unknown key 'stesp'") && Catch::Contains("steps, eta, sgd"));
  CHECK_THAT(error({{"steps", 4}, {"sgd", true}}), Catch::Contains("N must be divisible by T"));
}
