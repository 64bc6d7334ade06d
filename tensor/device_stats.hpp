// What the devices have used, for callers above the backends (profilers, benchmarks, `mttt
// dryrun`, tests): memory (bytes in use, their peak, the allocator's cache) and the work besides
// arithmetic (kernel launches, host-device synchronisations, bytes copied each way, driver
// allocations), per device or summed over the devices this process has used. The backends keep
// the counts (tensor/backend/); this header is all of them a caller needs.
#pragma once

#include <cstdint>

#include "tensor/device.hpp"

namespace mttt {

// A device's caching allocator (tensor/backend/caching_allocator.hpp).
struct MemoryStats {
  std::int64_t bytes_in_use = 0;       // handed out and not yet returned (rounded sizes)
  std::int64_t peak_bytes_in_use = 0;
  std::int64_t bytes_cached = 0;       // returned, held for reuse
  std::int64_t bytes_awaiting_streams = 0;  // returned, held until other streams' work on them is done
  std::int64_t system_allocations = 0; // calls to the raw allocator
  std::int64_t cache_hits = 0;
};

// What a device's work costs besides arithmetic (tensor/backend/device_counters.hpp counts it).
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

MemoryStats memory_stats(Device device = kCPU);
void reset_peak_memory(Device device = kCPU);
void empty_cache(Device device = kCPU);
// Launches, synchronisations, transfers and driver allocations since the process started;
// differences between two calls measure a piece of work.
LaunchStats launch_stats(Device device = kCPU);
// The sum over every device this process has used (the profiler's and the benchmarks' figure).
LaunchStats launch_stats_all_devices();

}  // namespace mttt
