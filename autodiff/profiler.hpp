// A profiler of time per operation, forward and backward, printed as a flat table.
//
//   mttt::autodiff::set_profiler_enabled(true);   // or MTTT_PROFILE=1 in the environment,
//   ...                                           // which also prints the table at exit
//   std::cout << mttt::autodiff::profiler_table();
//
// Self time excludes the operations an operation calls (a backward rule's own ops are
// counted under their own names, in the backward phase). A sweep's sums of the cotangents that
// reach one value by several paths are the row "accumulate" (total time; their adds are "add").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mttt::autodiff {

enum class Phase : std::uint8_t { forward, backward };

bool profiler_enabled();
void set_profiler_enabled(bool enabled);
void profiler_reset();

struct ProfileRow {
  std::string name;
  Phase phase;
  std::int64_t calls;
  double self_seconds;
  double total_seconds;
};
// Rows sorted by decreasing self time.
std::vector<ProfileRow> profiler_rows();
std::string profiler_table();

class ProfileScope {
 public:
  ProfileScope(const char* name, Phase phase);
  ~ProfileScope();
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  void finish();

  const char* name_ = nullptr;  // null when the profiler was off at construction
  Phase phase_ = Phase::forward;
  std::chrono::steady_clock::time_point start_;
  double child_seconds_ = 0;
  ProfileScope* parent_ = nullptr;
};

}  // namespace mttt::autodiff
