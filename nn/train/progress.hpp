// A progress line for long work: step, the caller's fields (loss...), rate and ETA. On a
// terminal it rewrites one line; otherwise (logs, CI) it prints a line every few seconds.
//
//   ProgressLine progress("train", total_steps, "img");
//   progress.update(step, images_this_step, {{"loss", loss}});
//   progress.finish();
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mttt::nn {

class ProgressLine {
 public:
  ProgressLine(std::string label, std::int64_t total_steps, std::string unit = "it", double print_every_seconds = 5.0);
  // `step` is the number of steps done (1-based after the first), `items` how many units that step processed.
  void update(std::int64_t step, std::int64_t items, const std::vector<std::pair<std::string, double>>& fields = {});
  void finish();

  static std::string format_duration(double seconds);

 private:
  std::string label_, unit_;
  std::int64_t total_;
  double print_every_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_print_, last_update_;
  std::int64_t last_step_ = 0;
  double rate_ = 0, seconds_per_step_ = 0;
  std::string line_;
};

}  // namespace mttt::nn
