// `mttt verify [--seed S] [--batch B --tokens N --width D --heads H] [--device DEV] [--rows NAME,...]
//              [--json FILE] [--list-rows]`: the paper's equivalences, checked numerically
// (mttt/verify.hpp); a progress line on stderr names the row being computed, then a table of
// errors next to their rounding estimates; exits non-zero if any row fails.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "mttt/verify.hpp"
#include "tensor/device.hpp"
#include "tensor/error.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

namespace {

struct VerifyArgs {
  ttt::VerifyOptions options;
  std::string device = "cpu", json;
  bool list = false;
};

// On a terminal one line rewritten in place; otherwise (logs, CI) a line per row.
class RowProgress {
 public:
  RowProgress() : terminal_(::isatty(::fileno(stderr)) != 0), start_(std::chrono::steady_clock::now()) {}
  void start(const std::string& group, std::size_t index, std::size_t count) {
    std::string line = fmt::format("verify [{}/{}] {} ({:.0f} s)", index + 1, count, group, seconds());
    if (terminal_)
      fmt::print(stderr, "\r\033[K{}", line);
    else
      fmt::print(stderr, "{}\n", line);
    std::fflush(stderr);
  }
  void finish() {
    if (terminal_) fmt::print(stderr, "\r\033[K");
  }
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
};

void print_table(const std::vector<ttt::VerifyRow>& rows) {
  fmt::print("{:<26} {:<31} {:>9} {:>9} {:>9}\n", "row", "quantity", "error", "estimate", "error/est");
  std::string check;
  for (const auto& r : rows) {
    if (r.check != check) fmt::print("{}\n", check = r.check);
    fmt::print("  {:<24} {:<31} {:>9.2e} {:>9.2e} {:>9.3f}  {}\n", r.group, r.quantity, r.error, r.estimate,
               r.error / r.estimate, r.ok() ? "ok" : "FAILED");
  }
}

// Written to a temporary file beside `path` and renamed: a failure leaves no half file.
void write_json(const std::string& path, const VerifyArgs& args, const std::vector<ttt::VerifyRow>& rows,
                double seconds) {
  const auto& s = args.options.shape;
  nlohmann::json table = nlohmann::json::array();
  bool ok = true;
  for (const auto& r : rows) {
    table.push_back({{"row", r.group}, {"check", r.check}, {"dtype", r.dtype}, {"quantity", r.quantity},
                     {"error", r.error}, {"estimate", r.estimate}, {"tolerance", r.tolerance()}, {"ok", r.ok()}});
    ok = ok && r.ok();
  }
  nlohmann::json doc = {{"shape", {{"batch", s.batch}, {"tokens", s.tokens}, {"width", s.width}, {"heads", s.heads}}},
                        {"seed", args.options.seed},
                        {"device", to_string(args.options.device)},
                        {"tolerance_multiple", ttt::kToleranceMultiple},
                        {"seconds", seconds},
                        {"ok", ok},
                        {"rows", table}};
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    check(out.good(), "verify", "cannot write --json {}", temporary);
    out << doc.dump(2) << "\n";
    out.flush();
    if (!out.good()) {
      std::remove(temporary.c_str());
      fail("verify", "writing --json {} failed (disk full?)", temporary);
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::remove(temporary.c_str());
    fail("verify", "cannot move {} to {}: {}", temporary, path, ec.message());
  }
}

void run(VerifyArgs& args) {
  if (args.list) {
    for (const auto& name : ttt::verify_groups()) fmt::print("{}\n", name);
    return;
  }
  if (!args.json.empty()) {  // before a run of a minute, not after it
    const auto folder = std::filesystem::absolute(args.json).parent_path();
    check(std::filesystem::is_directory(folder), "verify", "--json {}: the folder {} does not exist", args.json,
          folder.string());
  }
  args.options.device = parse_device(args.device);
  require_device(args.options.device);  // throws, saying how to build it, for a device this build lacks
  RowProgress progress;
  args.options.on_group = [&](const std::string& group, std::size_t i, std::size_t n) { progress.start(group, i, n); };
  auto rows = ttt::verify_equivalences(args.options);
  progress.finish();
  const double seconds = progress.seconds();
  const auto& s = args.options.shape;
  fmt::print("B {}, N {}, D {}, H {}, seed {}, device {}: a row fails beyond {:g} times its estimate\n\n", s.batch,
             s.tokens, s.width, s.heads, args.options.seed, to_string(args.options.device), ttt::kToleranceMultiple);
  print_table(rows);
  std::size_t failed = 0;
  for (const auto& r : rows) failed += !r.ok();
  fmt::print("\n{} of {} rows hold ({:.1f} s)\n", rows.size() - failed, rows.size(), seconds);
  if (!args.json.empty()) write_json(args.json, args, rows, seconds);
  if (failed) throw CLI::RuntimeError(1);
}

}  // namespace

void add_verify_command(CLI::App& app) {
  auto args = std::make_shared<VerifyArgs>();
  auto& shape = args->options.shape;
  auto* cmd = app.add_subcommand("verify", "check MTTT-Linear = linear attention, kernel learner = self-attention, and "
                                           "second-order gradients against finite differences");
  cmd->add_option("--seed", args->options.seed, "seed of the random weights and inputs");
  cmd->add_option("--batch", shape.batch, "B")->check(count_range());
  cmd->add_option("--tokens", shape.tokens, "N (divisible by 4 for the SGD rows)")->check(count_range());
  cmd->add_option("--width", shape.width, "D")->check(count_range());
  cmd->add_option("--heads", shape.heads, "H (dividing D)")->check(count_range());
  cmd->add_option("--device", args->device, "cpu, thrust-host, cuda or cuda:N");
  cmd->add_option("--rows", args->options.rows, "rows to run, by name or prefix before '/' (see --list-rows)")
      ->delimiter(',');
  cmd->add_option("--json", args->json, "also write the table as JSON to FILE");
  cmd->add_flag("--list-rows", args->list, "print the row names and exit");
  cmd->callback([args] { run(*args); });
}

}  // namespace mttt::cli
