// What a device's work costs besides arithmetic, counted on every device: kernel launches,
// host-device synchronisations, bytes copied each way and driver allocations. On a GPU these are
// what keep small layers from running at the speed of their arithmetic; on thrust-host the same
// code counts the same events, so a test without a GPU can hold a training step to no host
// synchronisation and no driver allocation (tests/parity).
#pragma once

#include <atomic>
#include <cstdint>

namespace mttt {

// What each field counts is the same on every device: on the CPU a kernel is one call of a
// Backend compute or data-movement method (it runs to completion, so it never syncs or copies).
struct LaunchStats {
  std::int64_t kernel_launches = 0;     // kernels (and library calls: a GEMM counts one) started
  std::int64_t host_syncs = 0;          // waits of the host for the device (a value read back, a stream synchronised)
  std::int64_t bytes_to_device = 0;     // host -> device copies
  std::int64_t bytes_to_host = 0;       // device -> host copies
  std::int64_t driver_allocations = 0;  // calls to the raw allocators (cudaMalloc, cudaHostAlloc; aligned_alloc on the host)

  LaunchStats& operator+=(const LaunchStats& o) {
    kernel_launches += o.kernel_launches;
    host_syncs += o.host_syncs;
    bytes_to_device += o.bytes_to_device;
    bytes_to_host += o.bytes_to_host;
    driver_allocations += o.driver_allocations;
    return *this;
  }
  // The work between two snapshots: later - earlier.
  friend LaunchStats operator-(LaunchStats a, const LaunchStats& b) {
    a.kernel_launches -= b.kernel_launches;
    a.host_syncs -= b.host_syncs;
    a.bytes_to_device -= b.bytes_to_device;
    a.bytes_to_host -= b.bytes_to_host;
    a.driver_allocations -= b.driver_allocations;
    return a;
  }
};

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
