#include "nn/train/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace mttt::nn {

ProgressLine::ProgressLine(std::string label, std::int64_t total_steps, std::string unit, double print_every_seconds)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total_steps),
      print_every_(print_every_seconds),
      terminal_(::isatty(::fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_),
      last_update_(start_) {}

std::string ProgressLine::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<std::int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

void ProgressLine::update(std::int64_t step, std::int64_t items, const std::vector<std::pair<std::string, double>>& fields) {
  const auto now = std::chrono::steady_clock::now();
  const double dt = std::chrono::duration<double>(now - last_update_).count();
  const std::int64_t steps = std::max<std::int64_t>(step - last_step_, 1);
  // Exponential averages: the rate settles after a few steps and follows slow changes.
  const double alpha = last_step_ == 0 ? 1.0 : 0.1;
  if (dt > 0) {
    rate_ = (1 - alpha) * rate_ + alpha * static_cast<double>(items) / dt;
    seconds_per_step_ = (1 - alpha) * seconds_per_step_ + alpha * dt / static_cast<double>(steps);
  }
  last_update_ = now;
  last_step_ = step;
  std::string text = fmt::format("{} {}/{}", label_, step, total_);
  for (const auto& [name, value] : fields) text += fmt::format(" | {} {:.4g}", name, value);
  text += fmt::format(" | {:.1f} {}/s | elapsed {} | ETA {}", rate_, unit_,
                      format_duration(std::chrono::duration<double>(now - start_).count()),
                      format_duration(seconds_per_step_ * static_cast<double>(total_ - step)));
  line_ = text;
  const bool due = std::chrono::duration<double>(now - last_print_).count() >= print_every_ || step == total_;
  if (terminal_) {
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
  } else if (due) {
    std::fprintf(stderr, "%s\n", text.c_str());
    last_print_ = now;
  }
}

void ProgressLine::finish() {
  if (terminal_ && !line_.empty()) std::fprintf(stderr, "\n");
  line_.clear();
}

}  // namespace mttt::nn
