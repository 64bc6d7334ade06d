// A profiler of time per operation, forward and backward, printed as a flat table, with what
// each operation cost its devices besides arithmetic: kernel launches, host synchronisations,
// bytes copied each way and driver allocations (the counters of tensor/backend/device_counters.hpp,
// summed over the devices in use; the tensor library registers them as the counter source).
//
//   mttt::autodiff::set_profiler_enabled(true);   // or MTTT_PROFILE=1 in the environment,
//   ...                                           // which also prints the table at exit
//   std::cout << mttt::autodiff::profiler_table();
//
// Self time excludes the operations an operation calls (a backward rule's own ops are
// counted under their own names, in the backward phase). A sweep's sums of the cotangents that
// reach one value by several paths are the row "accumulate" (total time; their adds are "add").
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mttt::autodiff {

enum class Phase : std::uint8_t { forward, backward };

bool profiler_enabled();
void set_profiler_enabled(bool enabled);
void profiler_reset();

// Kernel launches, host synchronisations, bytes to the device, bytes to the host, driver
// allocations: running totals, read at the start and end of each scope.
using ProfileCounters = std::array<std::int64_t, 5>;
using ProfileCounterSource = ProfileCounters (*)();
void set_profiler_counter_source(ProfileCounterSource source);

struct ProfileRow {
  std::string name;
  Phase phase;
  std::int64_t calls;
  double self_seconds;
  double total_seconds;
  ProfileCounters self_counts;  // the operation's own, not those of the operations it calls
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
  ProfileCounters start_counts_{}, child_counts_{};
  ProfileScope* parent_ = nullptr;
};

}  // namespace mttt::autodiff
