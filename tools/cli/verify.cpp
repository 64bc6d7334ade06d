// `mttt verify [--seed S] [--batch B --tokens N --width D --heads H]`: the paper's equivalences,
// checked numerically (mttt/verify.hpp); prints a table of errors and tolerances and exits
// non-zero if any row fails.
#include <fmt/format.h>

#include "mttt/verify.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

void add_verify_command(CLI::App& app) {
  auto seed = std::make_shared<std::uint64_t>(0);
  auto shape = std::make_shared<ttt::VerifyShape>();
  auto* cmd = app.add_subcommand("verify", "check MTTT-Linear = linear attention, kernel learner = self-attention, and "
                                           "second-order gradients against finite differences");
  cmd->add_option("--seed", *seed, "seed of the random weights and inputs");
  cmd->add_option("--batch", shape->batch, "B")->check(CLI::PositiveNumber);
  cmd->add_option("--tokens", shape->tokens, "N (divisible by 4 for the SGD check)")->check(CLI::PositiveNumber);
  cmd->add_option("--width", shape->width, "D")->check(CLI::PositiveNumber);
  cmd->add_option("--heads", shape->heads, "H (dividing D)")->check(CLI::PositiveNumber);
  cmd->callback([seed, shape] {
    auto rows = ttt::verify_equivalences(*seed, *shape);
    fmt::print("B {}, N {}, D {}, H {}, seed {}\n\n", shape->batch, shape->tokens, shape->width, shape->heads, *seed);
    fmt::print("{:<46} {:<8} {:<32} {:>10} {:>10}  \n", "check", "dtype", "quantity", "error", "tolerance");
    int failed = 0;
    for (const auto& r : rows) {
      fmt::print("{:<46} {:<8} {:<32} {:>10.2e} {:>10.0e}  {}\n", r.check, r.dtype, r.quantity, r.error, r.tolerance,
                 r.ok() ? "ok" : "FAILED");
      failed += !r.ok();
    }
    fmt::print("\n{} of {} rows hold\n", rows.size() - failed, rows.size());
    if (failed) throw CLI::RuntimeError(1);
  });
}

}  // namespace mttt::cli
