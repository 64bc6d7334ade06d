// `mttt params --config FILE`: the parameter counts of the configured model, per module
// (total, trainable, frozen), and the model's total with and without the position embedding
// (the spec and the paper's tables count models without it).
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "nn/config.hpp"
#include "nn/train/config_overrides.hpp"
#include "nn/vit.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

namespace {

struct Row {
  std::string name;
  int level = 0;
  nn::ParameterCount count;
  std::string what;
};

std::string shape_text(const Tensor& t) { return to_string(t.shape()); }

// Rows of a module's subtree: its own tensors and its children, down to `max_depth` levels.
void collect_rows(const nn::Module& module, const std::string& prefix, int level, int max_depth,
                  std::vector<Row>& rows) {
  auto full = [&](const std::string& name) { return prefix.empty() ? name : prefix + "." + name; };
  for (const auto& m : module.members()) {
    if (m.module) {
      rows.push_back({full(m.name), level, m.module->count_parameters(), m.module->describe()});
      if (level + 1 < max_depth) collect_rows(*m.module, full(m.name), level + 1, max_depth, rows);
    } else if (m.is_buffer) {
      rows.push_back({full(m.name), level, {}, "buffer " + shape_text(m.tensor) + ", fixed (not a parameter)"});
    } else {
      const std::int64_t n = m.tensor.numel();
      rows.push_back(
          {full(m.name), level, {n, m.frozen ? 0 : n, m.frozen ? n : 0}, "parameter " + shape_text(m.tensor)});
    }
  }
}

void print_table(const nn::ViT& vit, int depth) {
  const nn::ViTConfig& c = vit.config();
  fmt::print("{}: {}x{}x{} images, {} tokens of width {}, depth {}, {} heads, mlp {}, {} classes\n", c.name(),
             c.image_height, c.image_width, c.channels, nn::with_thousands(c.tokens()), c.width, c.depth, c.heads,
             c.mlp_dim, c.classes);
  fmt::print("layer {}{}, position embedding {}\n\n", c.layer,
             c.layer_options.empty() ? "" : " " + c.layer_options.dump(), nn::position_embedding_name(c.posemb));

  std::vector<Row> rows;
  collect_rows(vit, "", 0, depth, rows);
  std::size_t width = 28;
  for (const auto& r : rows) width = std::max(width, r.name.size() + 2 * static_cast<std::size_t>(r.level));
  std::size_t what_width = 4;
  for (const auto& r : rows) what_width = std::max(what_width, r.what.size());
  const std::string rule(width + 3 * 13 + 2 + what_width, '-');
  auto line = [&](const std::string& name, const nn::ParameterCount& n, const std::string& what) {
    std::string text = fmt::format("{:<{}} {:>12} {:>12} {:>12}  {}", name, width, nn::with_thousands(n.total),
                                   nn::with_thousands(n.trainable), nn::with_thousands(n.frozen), what);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    fmt::print("{}\n", text);
  };
  fmt::print("{:<{}} {:>12} {:>12} {:>12}  {}\n{}\n", "module", width, "total", "trainable", "frozen", "what", rule);
  for (const auto& r : rows) line(std::string(2 * static_cast<std::size_t>(r.level), ' ') + r.name, r.count, r.what);

  nn::ParameterCount all = vit.count_parameters(), without = all;
  for (const auto& [name, t] : vit.direct_parameters())
    if (name == "pos_embedding") {
      without.total -= t.numel();
      (vit.is_frozen(name) ? without.frozen : without.trainable) -= t.numel();
    }
  fmt::print("{}\n", rule);
  line("model", all, "");
  line("model without pos_embedding", without, "");
}

}  // namespace

void add_params_command(CLI::App& app) {
  auto* params =
      app.add_subcommand("params", "parameter counts of a model config, per module: total, trainable, frozen");
  auto config = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  auto depth = std::make_shared<int>(3);
  params->add_option("--config", *config, "JSON config with a \"model\" section (docs/config.md)")
      ->required()
      ->check(CLI::ExistingFile);
  params->add_option("--set", *overrides, "override a config value, e.g. --set model.layer=linear_attention");
  params->add_option("--depth", *depth, "levels of modules to list (1: top-level only)")->check(count_range());
  params->callback([=] {
    nlohmann::json j = nn::load_json_file(*config);
    check(j.is_object() && j.contains("model"), "params", "{}: needs a \"model\" section", *config);
    nn::ViTConfig model = nn::parse_vit_config(j["model"], *config + ": model");
    if (!overrides->empty()) {
      j["model"] = nn::complete_model_section(j["model"]);  // every key present, so that any can be overridden
      for (const auto& o : *overrides) nn::apply_override(j, o);
      model = nn::parse_vit_config(j["model"], *config + ": model (with --set)");
    }
    Generator generator(0);  // counts do not depend on the values
    nn::ViT vit(model, generator);
    print_table(vit, *depth);
  });
}

}  // namespace mttt::cli
