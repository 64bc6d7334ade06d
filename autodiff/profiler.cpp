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
thread_local ProfileScope* t_innermost = nullptr;

}  // namespace

bool profiler_enabled() { return g_enabled.load(std::memory_order_relaxed); }
void set_profiler_enabled(bool enabled) { g_enabled.store(enabled, std::memory_order_relaxed); }

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
  start_ = std::chrono::steady_clock::now();
}

ProfileScope::~ProfileScope() {
  if (name_) finish();
}

void ProfileScope::finish() {
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  t_innermost = parent_;
  if (parent_) parent_->child_seconds_ += total;
  // An op called from a backward rule is backward work, whatever its own scope says.
  Phase phase = phase_;
  for (ProfileScope* p = parent_; p; p = p->parent_)
    if (p->phase_ == Phase::backward) phase = Phase::backward;
  std::lock_guard lock(registry().mutex);
  Totals& t = registry().totals[{name_, phase}];
  t.calls += 1;
  t.self_seconds += total - child_seconds_;
  t.total_seconds += total;
}

std::vector<ProfileRow> profiler_rows() {
  std::vector<ProfileRow> rows;
  {
    std::lock_guard lock(registry().mutex);
    for (const auto& [key, t] : registry().totals)
      rows.push_back({key.first, key.second, t.calls, t.self_seconds, t.total_seconds});
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.self_seconds > b.self_seconds; });
  return rows;
}

std::string profiler_table() {
  auto rows = profiler_rows();
  double all = 0;
  for (const auto& r : rows) all += r.self_seconds;
  std::string out = fmt::format("{:<28} {:>8} {:>10} {:>12} {:>12} {:>7}\n", "op", "phase", "calls", "self ms",
                                "total ms", "self %");
  for (const auto& r : rows)
    out += fmt::format("{:<28} {:>8} {:>10} {:>12.3f} {:>12.3f} {:>6.1f}%\n", r.name,
                       r.phase == Phase::forward ? "forward" : "backward", r.calls, r.self_seconds * 1e3,
                       r.total_seconds * 1e3, all > 0 ? 100 * r.self_seconds / all : 0.0);
  out += fmt::format("{:<28} {:>8} {:>10} {:>12.3f}\n", "all", "", "", all * 1e3);
  return out;
}

}  // namespace mttt::autodiff
