#include "autodiff/profiler.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include <fmt/format.h>

namespace mttt::autodiff {

namespace {

struct Totals {
  std::int64_t calls = 0;
  double self_seconds = 0;
  double total_seconds = 0;
  ProfileCounters self_counts{};
};

struct Registry {
  std::mutex mutex;
  std::map<std::pair<std::string, Phase>, Totals> totals;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: scopes may end during static teardown
  return *r;
}

bool enabled_from_environment() {
  const char* value = std::getenv("MTTT_PROFILE");
  if (!value || !*value || std::string(value) == "0") return false;
  std::atexit([] { std::fputs(profiler_table().c_str(), stderr); });
  return true;
}

std::atomic<bool> g_enabled{enabled_from_environment()};
std::atomic<ProfileCounterSource> g_counter_source{nullptr};

ProfileCounters read_counters() {
  const ProfileCounterSource source = g_counter_source.load(std::memory_order_acquire);
  return source ? source() : ProfileCounters{};
}
thread_local ProfileScope* t_innermost = nullptr;

}  // namespace

bool profiler_enabled() { return g_enabled.load(std::memory_order_relaxed); }
void set_profiler_enabled(bool enabled) { g_enabled.store(enabled, std::memory_order_relaxed); }

void set_profiler_counter_source(ProfileCounterSource source) {
  g_counter_source.store(source, std::memory_order_release);
}

void profiler_reset() {
  std::lock_guard lock(registry().mutex);
  registry().totals.clear();
}

ProfileScope::ProfileScope(const char* name, Phase phase) {
  if (!profiler_enabled()) return;
  name_ = name;
  phase_ = phase;
  parent_ = t_innermost;
  t_innermost = this;
  start_counts_ = read_counters();
  start_ = std::chrono::steady_clock::now();
}

ProfileScope::~ProfileScope() {
  if (name_) finish();
}

void ProfileScope::finish() {
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const ProfileCounters end_counts = read_counters();
  ProfileCounters counts{};
  for (std::size_t k = 0; k < counts.size(); ++k) counts[k] = end_counts[k] - start_counts_[k];
  t_innermost = parent_;
  if (parent_) {
    parent_->child_seconds_ += total;
    for (std::size_t k = 0; k < counts.size(); ++k) parent_->child_counts_[k] += counts[k];
  }
  // An op called from a backward rule is backward work, whatever its own scope says.
  Phase phase = phase_;
  for (ProfileScope* p = parent_; p; p = p->parent_)
    if (p->phase_ == Phase::backward) phase = Phase::backward;
  std::lock_guard lock(registry().mutex);
  Totals& t = registry().totals[{name_, phase}];
  t.calls += 1;
  t.self_seconds += total - child_seconds_;
  t.total_seconds += total;
  for (std::size_t k = 0; k < counts.size(); ++k) t.self_counts[k] += counts[k] - child_counts_[k];
}

std::vector<ProfileRow> profiler_rows() {
  std::vector<ProfileRow> rows;
  {
    std::lock_guard lock(registry().mutex);
    for (const auto& [key, t] : registry().totals)
      rows.push_back({key.first, key.second, t.calls, t.self_seconds, t.total_seconds, t.self_counts});
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.self_seconds > b.self_seconds; });
  return rows;
}

std::string profiler_table() {
  auto rows = profiler_rows();
  double all = 0;
  ProfileCounters all_counts{};
  for (const auto& r : rows) {
    all += r.self_seconds;
    for (std::size_t k = 0; k < all_counts.size(); ++k) all_counts[k] += r.self_counts[k];
  }
  // launches, host syncs, KiB to the device, KiB to the host, driver allocations
  auto counts = [](const ProfileCounters& c) {
    return fmt::format("{:>9} {:>6} {:>10.1f} {:>10.1f} {:>7}", c[0], c[1], static_cast<double>(c[2]) / 1024,
                       static_cast<double>(c[3]) / 1024, c[4]);
  };
  std::string out = fmt::format("{:<28} {:>8} {:>10} {:>12} {:>12} {:>7} {:>9} {:>6} {:>10} {:>10} {:>7}\n", "op",
                                "phase", "calls", "self ms", "total ms", "self %", "launches", "syncs", "KiB to dev",
                                "KiB to host", "allocs");
  for (const auto& r : rows)
    out += fmt::format("{:<28} {:>8} {:>10} {:>12.3f} {:>12.3f} {:>6.1f}% {}\n", r.name,
                       r.phase == Phase::forward ? "forward" : "backward", r.calls, r.self_seconds * 1e3,
                       r.total_seconds * 1e3, all > 0 ? 100 * r.self_seconds / all : 0.0, counts(r.self_counts));
  out += fmt::format("{:<28} {:>8} {:>10} {:>12.3f} {:>12} {:>7} {}\n", "all", "", "", all * 1e3, "", "",
                     counts(all_counts));
  return out;
}

}  // namespace mttt::autodiff
