// What a device's work costs besides arithmetic, counted on every device: kernel launches,
// host-device synchronisations, bytes copied each way and driver allocations. On a GPU these are
// what keep small layers from running at the speed of their arithmetic; on thrust-host the same
// code counts the same events, so a test without a GPU can hold a training step to no host
// synchronisation and no driver allocation (tests/parity).
#pragma once

#include <atomic>
#include <cstdint>

#include "tensor/device_stats.hpp"

namespace mttt {

// The counters of one device; every field is atomic, so any thread may count.
class DeviceCounters {
 public:
  void launch(std::int64_t n = 1) { launches_.fetch_add(n, std::memory_order_relaxed); }
  void sync() { syncs_.fetch_add(1, std::memory_order_relaxed); }
  void to_device(std::int64_t bytes) { to_device_.fetch_add(bytes, std::memory_order_relaxed); }
  void to_host(std::int64_t bytes) { to_host_.fetch_add(bytes, std::memory_order_relaxed); }
  // The driver allocations come from the caching allocator's statistics (system_allocations).
  LaunchStats snapshot(std::int64_t driver_allocations) const {
    return {launches_.load(std::memory_order_relaxed), syncs_.load(std::memory_order_relaxed),
            to_device_.load(std::memory_order_relaxed), to_host_.load(std::memory_order_relaxed), driver_allocations};
  }

 private:
  std::atomic<std::int64_t> launches_{0}, syncs_{0}, to_device_{0}, to_host_{0};
};

}  // namespace mttt
