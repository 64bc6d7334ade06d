// `mttt compare RUN_DIR...`: the finished (or running) training runs side by side, from each
// folder's metrics.jsonl and the config inside its checkpoint: layer, parameters, test accuracy
// after every epoch, training time per epoch and, for TTT layers, the inner loss before the
// first and after the last inner step (averaged over layers) on the last evaluation pass.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "nn/train/checkpoint.hpp"
#include "tensor/error.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

namespace {

struct RunSummary {
  std::string folder, layer;
  std::vector<double> accuracy, train_seconds;
  double inner_first = 0, inner_last = 0;
  bool has_inner = false;
};

std::string layer_of(const nlohmann::json& config) {
  const auto& layer = config.at("model").value("layer", nlohmann::json("self_attention"));
  if (layer.is_string()) return layer.get<std::string>();
  std::string text = layer.value("kind", "?");
  for (const auto& [key, value] : layer.items())
    if (key != "kind") text += fmt::format(" {}={}", key, value.dump());
  return text;
}

RunSummary summarise(const std::filesystem::path& folder) {
  RunSummary run;
  run.folder = folder.string();
  const auto metrics = folder / "metrics.jsonl";
  std::ifstream in(metrics);
  check(bool(in), "compare", "{}: no metrics.jsonl (is it a folder `mttt train` wrote?)", folder.string());
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail("compare", "{}:{}: not JSON ({})", metrics.string(), number, e.what());
    }
    if (record.value("kind", "") != "eval") continue;
    run.accuracy.push_back(record.value("accuracy", 0.0));
    run.train_seconds.push_back(record.value("train_seconds", 0.0));
    if (record.contains("inner_losses") && !record["inner_losses"].empty()) {
      double first = 0, last = 0;
      for (const auto& [name, values] : record["inner_losses"].items()) {
        first += values.front().get<double>();
        last += values.back().get<double>();
      }
      const double layers = static_cast<double>(record["inner_losses"].size());
      run.inner_first = first / layers, run.inner_last = last / layers, run.has_inner = true;
    }
  }
  const auto checkpoint = folder / "checkpoint.safetensors";
  run.layer = std::filesystem::exists(checkpoint) ? layer_of(nn::read_checkpoint(checkpoint.string()).info.config) : "?";
  return run;
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "training runs side by side: test accuracy per epoch, time per epoch, inner losses");
  auto folders = std::make_shared<std::vector<std::string>>();
  cmd->add_option("runs", *folders, "folders written by mttt train (run.out)")->required()->check(CLI::ExistingDirectory);
  cmd->callback([folders] {
    std::vector<RunSummary> runs;
    std::size_t epochs = 0;
    for (const auto& folder : *folders) {
      runs.push_back(summarise(folder));
      epochs = std::max(epochs, runs.back().accuracy.size());
    }
    std::size_t run_width = 3, layer_width = 5;
    for (const auto& run : runs) run_width = std::max(run_width, run.folder.size()), layer_width = std::max(layer_width, run.layer.size());
    fmt::print("{:<{}}  {:<{}}", "run", run_width, "layer", layer_width);
    for (std::size_t e = 1; e <= epochs; ++e) fmt::print(" {:>8}", fmt::format("epoch {}", e));
    fmt::print(" {:>10} {:>22}\n", "s/epoch", "inner loss t=0 -> T");
    for (const auto& run : runs) {
      fmt::print("{:<{}}  {:<{}}", run.folder, run_width, run.layer, layer_width);
      for (std::size_t e = 0; e < epochs; ++e)
        fmt::print(" {:>8}", e < run.accuracy.size() ? fmt::format("{:.2f}%", 100 * run.accuracy[e]) : "-");
      double seconds = 0;
      for (double s : run.train_seconds) seconds += s;
      fmt::print(" {:>10} {:>22}\n", run.train_seconds.empty() ? "-" : fmt::format("{:.0f}", seconds / run.train_seconds.size()),
                 run.has_inner ? fmt::format("{:.4f} -> {:.4f}", run.inner_first, run.inner_last) : "-");
    }
  });
}

}  // namespace mttt::cli
