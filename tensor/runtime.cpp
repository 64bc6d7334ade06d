#include "tensor/runtime.hpp"

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include <omp.h>

#include "tensor/error.hpp"

extern "C" void openblas_set_num_threads(int);

namespace mttt {

namespace {

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  try {
    return std::stoi(value);
  } catch (const std::exception&) {
    fail("runtime", "environment variable {}='{}' is not an integer", name, value);
  }
}

#ifndef MTTT_FUSION_DEFAULT
#define MTTT_FUSION_DEFAULT 1
#endif

std::atomic<bool> g_fusion{env_int("MTTT_FUSION", MTTT_FUSION_DEFAULT) != 0};
std::atomic<bool> g_deterministic{env_int("MTTT_DETERMINISTIC", 0) != 0};

int initial_threads() {
  int threads = env_int("MTTT_NUM_THREADS", static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  // OpenBLAS runs single-threaded: the library splits large products across OpenMP threads
  // itself, so two thread pools never compete for two cores.
  openblas_set_num_threads(1);
  omp_set_num_threads(std::max(1, threads));
  return std::max(1, threads);
}

std::atomic<int> g_threads{initial_threads()};

}  // namespace

int num_threads() { return g_threads.load(std::memory_order_relaxed); }

void set_num_threads(int threads) {
  check(threads >= 1, "set_num_threads", "thread count must be at least 1, got {}", threads);
  g_threads.store(threads);
  omp_set_num_threads(threads);
}

bool fusion_enabled() { return g_fusion.load(std::memory_order_relaxed); }
void set_fusion_enabled(bool enabled) { g_fusion.store(enabled); }

bool deterministic() { return g_deterministic.load(std::memory_order_relaxed); }
void set_deterministic(bool enabled) { g_deterministic.store(enabled); }

FusionScope::FusionScope(bool enabled) : previous_(fusion_enabled()) { set_fusion_enabled(enabled); }
FusionScope::~FusionScope() { set_fusion_enabled(previous_); }

}  // namespace mttt
