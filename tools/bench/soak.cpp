// `soak [--steps N] [--every K] [--out FILE]`: a small ViT with MTTT-MLP (two blocks, width 32,
// two inner steps with SGD token orders, 7x7 patches of Fashion-MNIST) trained for N steps
// through nn::Trainer, sampling every K steps the allocator's bytes in use and cached (the pool),
// the bytes the C heap holds (mallinfo2), the process's resident memory and the programs in the
// fusion IR's table. Flat is the assertion (the first quarter is warm-up): on each measure of
// bytes the mean of the last quarter's samples may exceed the second quarter's by at most 256 KB
// plus 64 bytes per step between the two quarters' middles, so a growth of 0.8 KB a step fails a
// 2,000-step soak, and the count of programs may not change after the first quarter (a program
// made every step, a per-step constant, would fill the table); otherwise the program exits 1.
// docs/benchmarks.md has the figures.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "mttt/ttt_mixer.hpp"
#include "nn/data/fashion_mnist.hpp"
#include "nn/train/trainer.hpp"
#include "tensor/device_stats.hpp"
#include "tensor/expr/program.hpp"
#include "tensor/tensor.hpp"

namespace {

std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// Bytes the C heap holds allocated (malloc'ed and not freed, mmap'ed blocks included).
std::int64_t heap_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<std::int64_t>(m.uordblks + m.hblkhd);
}

struct Sample {
  std::int64_t step, in_use, cached, heap, resident, programs;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace mttt;
  CLI::App app{"soak: memory stays flat over a long training run"};
  std::int64_t steps = 10000, every = 100;
  std::string out;
  app.add_option("--steps", steps, "training steps")->check(CLI::Range(std::int64_t{100}, std::int64_t{1} << 40));
  app.add_option("--every", every, "steps between samples")->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  app.add_option("--out", out, "write the samples as JSON");
  CLI11_PARSE(app, argc, argv);
  if (!nn::data::fashion_mnist_available()) {
    fmt::print(stderr, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)\n");
    return 77;
  }
  ttt::register_ttt_mixers();
  const auto folder = std::filesystem::temp_directory_path() / fmt::format("mttt_soak_{}", ::getpid());
  nlohmann::json config = {
      {"model",
       {{"variant", "custom"}, {"width", 32}, {"depth", 2}, {"heads", 2}, {"mlp_dim", 64}, {"patch", 7}, {"image", 28},
        {"channels", 1}, {"classes", 10}, {"layer", {{"kind", "mttt_mlp"}, {"steps", 2}, {"sgd", true}}}}},
      {"data", {{"dataset", "fashion_mnist"}, {"train_subset", 2000}, {"test_subset", 100}}},
      {"optim", {{"optimizer", "adam"}, {"lr", 0.001}, {"schedule", "constant"}}},
      {"run", {{"epochs", 1000000}, {"batch_size", 16}, {"checkpoint", false}, {"out", folder.string()}}}};
  std::vector<Sample> samples;
  {
    nn::Trainer trainer(nn::parse_train_config(config, {}, "soak"), nn::TrainerOptions{.resume = "", .overwrite = true});
    const Device device = trainer.model().device();
    for (std::int64_t s = 1; s <= steps; ++s) {
      trainer.train_step(false);
      if (s % every == 0) {
        const MemoryStats m = memory_stats(device);
        samples.push_back({s, m.bytes_in_use, m.bytes_cached, heap_bytes(), resident_bytes(),
                           static_cast<std::int64_t>(expr::interned_programs())});
        fmt::print("step {:>6}: in use {:>10} B, cached {:>10} B, heap {:>10} B, resident {:>10} B, {} programs\n", s,
                   m.bytes_in_use, m.bytes_cached, samples.back().heap, samples.back().resident, samples.back().programs);
        std::fflush(stdout);
      }
    }
  }
  std::filesystem::remove_all(folder);

  auto mean = [&](std::size_t from, std::size_t to, std::int64_t Sample::*field) {
    double total = 0;
    for (std::size_t i = from; i < to; ++i) total += static_cast<double>(samples[i].*field);
    return total / static_cast<double>(std::max<std::size_t>(1, to - from));
  };
  const std::size_t n = samples.size();
  bool flat = n >= 8;
  nlohmann::json report = {{"steps", steps}, {"every", every}, {"samples", nlohmann::json::array()}};
  for (const auto& s : samples) report["samples"].push_back({s.step, s.in_use, s.cached, s.heap, s.resident, s.programs});
  for (auto [name, field] : {std::pair{"bytes in use", &Sample::in_use}, std::pair{"bytes cached", &Sample::cached},
                             std::pair{"heap bytes", &Sample::heap}, std::pair{"resident bytes", &Sample::resident}}) {
    const double second = mean(n / 4, n / 2, field), last = mean(3 * n / 4, n, field);
    const double steps_between = 0.5 * static_cast<double>(steps);  // the quarters' middles
    const bool ok = last <= second + (256 << 10) + 64 * steps_between;
    flat = flat && ok;
    fmt::print("{}: {:.0f} (second quarter) -> {:.0f} (last quarter), {:.0f} B a step: {}\n", name, second, last,
               (last - second) / steps_between, ok ? "flat" : "GROWS");
    report[name] = {{"second_quarter", second}, {"last_quarter", last}, {"flat", ok}};
  }
  if (n > 0) {
    const auto [low, high] = std::minmax_element(samples.begin() + static_cast<std::ptrdiff_t>(n / 4), samples.end(),
                                                 [](const Sample& a, const Sample& b) { return a.programs < b.programs; });
    const bool ok = low->programs == high->programs;
    flat = flat && ok;
    fmt::print("interned programs: {} to {} after the first quarter: {}\n", low->programs, high->programs,
               ok ? "flat" : "CHANGES");
    report["interned programs"] = {{"min", low->programs}, {"max", high->programs}, {"flat", ok}};
  }
  if (!out.empty()) std::ofstream(out) << report.dump(1) << '\n';
  return flat ? 0 : 1;
}
