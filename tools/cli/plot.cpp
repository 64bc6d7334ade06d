// `mttt plot METRICS [--out DIR]`: PNG curves of a metrics file, drawn by tools/plot_metrics.py
// with Debian's python3-matplotlib.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "tensor/error.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

namespace {

std::string plot_script() {
  for (const char* candidate : {MTTT_PLOT_SCRIPT_INSTALLED, MTTT_PLOT_SCRIPT_SOURCE})
    if (std::filesystem::exists(candidate)) return candidate;
  fail("plot", "plot_metrics.py is neither at {} nor at {}", MTTT_PLOT_SCRIPT_INSTALLED, MTTT_PLOT_SCRIPT_SOURCE);
}

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

void add_plot_command(CLI::App& app) {
  auto* plot = app.add_subcommand("plot", "draw a metrics file (JSON lines) as PNG loss, accuracy and inner-loss curves");
  auto metrics = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>(".");
  auto title = std::make_shared<std::string>();
  plot->add_option("metrics", *metrics, "metrics file written by mttt train")->required()->check(CLI::ExistingFile);
  plot->add_option("--out", *out, "folder for the PNG files");
  plot->add_option("--title", *title, "a title for the figures");
  plot->callback([=] {
    // Debian's interpreter, which has python3-matplotlib; a python3 earlier on PATH may not.
    const char* python = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    std::string command = fmt::format("{} {} {} --out {}{}", python, shell_quoted(plot_script()), shell_quoted(*metrics), shell_quoted(*out),
                                      title->empty() ? "" : std::string(" --title ") + shell_quoted(*title));
    const int status = std::system(command.c_str());
    const int code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    // The script says what went wrong; 3 is its code for a missing matplotlib.
    check(code != 3, "plot", "python3-matplotlib is missing (apt-get install python3-matplotlib)");
    check(code == 0, "plot", "plotting {} failed (the reason is above)", *metrics);
  });
}

}  // namespace mttt::cli
