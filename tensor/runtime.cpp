#include "tensor/runtime.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <string>
#include <thread>

#include <omp.h>

#include "tensor/error.hpp"

extern "C" void openblas_set_num_threads(int);

namespace mttt {

namespace {

// More threads than this is a mistake: OpenMP fails far above it, and well below it (1000
// threads on a few cores) a run is 200 times slower.
constexpr int kMaxThreads = 1024;

#ifndef MTTT_FUSION_DEFAULT
#define MTTT_FUSION_DEFAULT 1
#endif

std::string lower(const char* value) {
  std::string s(value);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool env_flag(const char* name, bool fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  const std::string v = lower(value);
  if (v == "1" || v == "true" || v == "on" || v == "yes") return true;
  if (v == "0" || v == "false" || v == "off" || v == "no") return false;
  fail("runtime", "environment variable {}='{}': expected 1, true, on or yes, or 0, false, off or no", name, value);
}

int env_threads(int fallback) {
  const char* value = std::getenv("MTTT_NUM_THREADS");
  if (!value || !*value) return fallback;
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  check(used > 0 && value[used] == '\0' && n >= 1 && n <= kMaxThreads, "runtime",
        "environment variable MTTT_NUM_THREADS='{}': expected a thread count from 1 to {}", value, kMaxThreads);
  return static_cast<int>(n);
}

// Read from the environment on first use, not at load time: a bad value is then an error that
// names the variable, raised where the program can report it (`mttt --help` never reads them).
struct Settings {
  std::atomic<bool> fusion{env_flag("MTTT_FUSION", MTTT_FUSION_DEFAULT != 0)};
  std::atomic<bool> deterministic{env_flag("MTTT_DETERMINISTIC", false)};
  std::atomic<int> threads{initial_threads()};

  static int initial_threads() {
    const int threads = env_threads(std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, kMaxThreads));
    // OpenBLAS runs single-threaded: the library splits large products across OpenMP threads
    // itself, so two thread pools never compete for two cores.
    openblas_set_num_threads(1);
    omp_set_num_threads(threads);
    return threads;
  }
};

Settings& settings() {
  static Settings s;
  return s;
}

}  // namespace

int num_threads() { return settings().threads.load(std::memory_order_relaxed); }

void set_num_threads(int threads) {
  check(threads >= 1 && threads <= kMaxThreads, "set_num_threads", "thread count must be from 1 to {}, got {}",
        kMaxThreads, threads);
  settings().threads.store(threads);
  omp_set_num_threads(threads);
}

bool fusion_enabled() { return settings().fusion.load(std::memory_order_relaxed); }
void set_fusion_enabled(bool enabled) { settings().fusion.store(enabled); }

bool deterministic() { return settings().deterministic.load(std::memory_order_relaxed); }
void set_deterministic(bool enabled) { settings().deterministic.store(enabled); }

FusionScope::FusionScope(bool enabled) : previous_(fusion_enabled()) { set_fusion_enabled(enabled); }
FusionScope::~FusionScope() { set_fusion_enabled(previous_); }

}  // namespace mttt
