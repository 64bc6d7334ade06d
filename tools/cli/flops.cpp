// `mttt flops --config FILE [--set model.x=v]...`: analytic matrix-product FLOPs per image of
// the configured model (mttt/flops.hpp; docs/flops.md), forward as the paper counts it and
// training as executed, per product of one block's layer and for the whole model, each next to
// the same model with linear attention (identity map) in every block.
#include <fmt/format.h>

#include "mttt/flops.hpp"
#include "nn/config.hpp"
#include "nn/train/config_overrides.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

namespace {

ttt::ModelShape model_shape(const nn::ViTConfig& c) {
  ttt::ModelShape s;
  s.layer.kind = c.layer;
  s.layer.tokens = c.tokens();
  s.layer.width = c.width;
  s.layer.heads = c.heads;
  s.layer.steps = c.layer_options.value("steps", 1);
  s.layer.sgd = c.layer_options.value("sgd", false);
  s.depth = c.depth;
  s.mlp_dim = c.mlp_dim;
  s.patch_features = c.patch * c.patch * c.channels;
  s.classes = c.classes;
  return s;
}

}  // namespace

void add_flops_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("flops", "analytic matmul FLOPs of the configured model, relative to linear attention");
  cmd->add_option("--config", *path, "JSON config with a model section")->required()->check(CLI::ExistingFile);
  cmd->add_option("--set", *overrides, "override a model key: --set model.layer=mttt_mlp");
  cmd->callback([path, overrides] {
    nlohmann::json config = nn::load_json_file(*path);
    nlohmann::json wrapper = {{"model", nn::parse_vit_config(config.value("model", nlohmann::json::object()), *path)
                                            .to_json()}};
    for (const auto& o : *overrides) nn::apply_override(wrapper, o);
    nn::ViTConfig c = nn::parse_vit_config(wrapper["model"], *path);
    ttt::ModelShape shape = model_shape(c);
    ttt::ModelShape baseline = shape;
    baseline.layer.kind = "linear_attention";
    baseline.layer.steps = 1;
    baseline.layer.sgd = false;

    fmt::print("{} with {} (N = {} tokens, D = {}, H = {}{}): matrix-product FLOPs per image\n\n", c.name(), c.layer,
               shape.layer.tokens, c.width, c.heads,
               c.layer.rfind("mttt", 0) == 0 ? fmt::format(", T = {}{}", shape.layer.steps, shape.layer.sgd ? " SGD" : "")
                                             : std::string());
    fmt::print("{:<52} {:>14} {:>10}\n", "one block's layer: product", "MFLOPs", "counted");
    for (const auto& p : ttt::layer_products(shape.layer))
      fmt::print("{:<52} {:>14.3f} {:>10}\n", p.what, p.flops / 1e6, p.executed ? "" : "paper only");
    auto layer = ttt::totals(ttt::layer_products(shape.layer));
    auto layer_base = ttt::totals(ttt::layer_products(baseline.layer));
    auto model = ttt::totals(ttt::model_products(shape));
    auto model_base = ttt::totals(ttt::model_products(baseline));
    fmt::print("\n{:<28} {:>16} {:>14} {:>18} {:>14}\n", "", "forward GFLOPs", "vs linear attn", "training GFLOPs",
               "vs linear attn");
    fmt::print("{:<28} {:>16.3f} {:>13.3f}x {:>18.3f} {:>13.3f}x\n", "layer (one block)", layer.forward / 1e9,
               layer.forward / layer_base.forward, layer.training / 1e9, layer.training / layer_base.training);
    fmt::print("{:<28} {:>16.3f} {:>13.3f}x {:>18.3f} {:>13.3f}x\n", "model", model.forward / 1e9,
               model.forward / model_base.forward, model.training / 1e9, model.training / model_base.training);
    fmt::print("\nforward: as the paper counts it (W0 terms included, the inner backward's cotangent of K counted);\n"
               "training: as executed here (forward without that cotangent, plus the outer backward). docs/flops.md.\n");
  });
}

}  // namespace mttt::cli
