// The subcommands of the `mttt` program; each registers itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace mttt::cli {

// A count option (--heads, --steps, ...): a whole number from 1 to `most`, refused otherwise with
// the value and the range (CLI::PositiveNumber's message prints DBL_MAX in 309 digits).
inline CLI::Range count_range(std::int64_t most = std::int64_t{1} << 30) { return CLI::Range(std::int64_t{1}, most); }

// `mttt demo`: a tour of the tensor library and the autodiff engine.
void add_demo_command(CLI::App& app);
// `mttt plot`: PNG curves of a metrics file.
void add_plot_command(CLI::App& app);
// `mttt params --config FILE`: parameter counts per module of the configured model.
void add_params_command(CLI::App& app);
// `mttt train` and `mttt eval`.
void add_train_command(CLI::App& app);
// `mttt layer KIND ...`: one drop-in layer on given tensors.
void add_layer_command(CLI::App& app);
// `mttt flops --config FILE`: analytic FLOPs relative to linear attention.
void add_flops_command(CLI::App& app);
// `mttt verify`: the equivalences, checked numerically.
void add_verify_command(CLI::App& app);
// `mttt compare RUN_DIR...`: training runs side by side.
void add_compare_command(CLI::App& app);
// `mttt dryrun --config FILE --data ROOT`: a real config tried on a small folder, projected.
void add_dryrun_command(CLI::App& app);

}  // namespace mttt::cli
