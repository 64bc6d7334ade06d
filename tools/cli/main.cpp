// mttt: the command-line program. Global options apply to every subcommand.
#include <exception>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "mttt/ttt_mixer.hpp"
#include "tensor/runtime.hpp"
#include "tools/cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"mttt: a deep-learning engine with higher-order autodiff, and Learning to (Learn at Test Time) on it"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand: `mttt train ... --threads 2`
  mttt::ttt::register_ttt_mixers();  // configs may name mttt_linear and mttt_mlp layers
  int threads = 0;
  app.add_option("--threads", threads, "worker threads (default: MTTT_NUM_THREADS or all cores)")
      ->check(CLI::Range(1, 1024));
  app.parse_complete_callback([&] {
    if (threads <= 0) return;
    const unsigned cores = std::thread::hardware_concurrency();
    if (cores > 0 && static_cast<unsigned>(threads) > cores)
      std::cerr << "mttt: warning: --threads " << threads << " is more than the " << cores
                << " hardware threads: expect a slower run\n";
    mttt::set_num_threads(threads);
  });
  mttt::cli::add_demo_command(app);
  mttt::cli::add_plot_command(app);
  mttt::cli::add_train_command(app);
  mttt::cli::add_layer_command(app);
  mttt::cli::add_flops_command(app);
  mttt::cli::add_verify_command(app);
  mttt::cli::add_compare_command(app);
  mttt::cli::add_dryrun_command(app);
  mttt::cli::add_params_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "mttt: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
