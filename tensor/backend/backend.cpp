#include "tensor/backend/backend.hpp"

#include <array>
#include <atomic>
#include <string>

#include "autodiff/profiler.hpp"
#include "tensor/backend/cpu/cpu_backend.hpp"

namespace mttt {

namespace {
class AlignedRawAllocator final : public RawAllocator {
 public:
  void* allocate(std::size_t bytes) override { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); }
  void deallocate(void* pointer, std::size_t) override { std::free(pointer); }
};
}  // namespace

std::unique_ptr<RawAllocator> make_host_raw_allocator() { return std::make_unique<AlignedRawAllocator>(); }

CpuBackend::CpuBackend() : allocator_(make_host_raw_allocator()) {}

void Backend::check_index_range(const Tensor& index, std::int64_t size, const char* op) {
  for (std::int64_t v : index.to_vector<std::int64_t>())
    if (v < 0 || v >= size)
      throw_error(op, "index " + std::to_string(v) + " is out of range for an axis of size " + std::to_string(size));
}

void Backend::begin_capture() {
  throw_error("capture", to_string(device()) +
                             " cannot capture work into a graph: its kernels run as they are called; graphs are for "
                             "cuda (and thrust-host, which emulates them)");
}

std::unique_ptr<CapturedGraph> Backend::end_capture() { return nullptr; }

namespace {
// The device types backend() has handed out, so that launch_stats_all_devices() never starts a
// device (a GPU) only to read its zero counters.
std::array<std::atomic<bool>, 3> g_device_used{};
// BackendSubstitution's backends, by device type.
std::array<std::atomic<Backend*>, 3> g_substitutes{};
}  // namespace

BackendSubstitution::BackendSubstitution(DeviceType type, Backend& substitute)
    : type_(type), previous_(g_substitutes[static_cast<std::size_t>(type)].exchange(&substitute)) {}
BackendSubstitution::~BackendSubstitution() { g_substitutes[static_cast<std::size_t>(type_)].store(previous_); }

Backend& backend(Device device) {
  g_device_used[static_cast<std::size_t>(device.type)].store(true, std::memory_order_relaxed);
  if (Backend* substitute = g_substitutes[static_cast<std::size_t>(device.type)].load(std::memory_order_acquire))
    return *substitute;
  switch (device.type) {
    case DeviceType::cpu: {
      static CpuBackend* cpu = new CpuBackend;  // never destroyed: static tensors may outlive main
      return *cpu;
    }
    case DeviceType::thrust_host:
      if (Backend* thrust = thrust_host_backend()) return *thrust;
      fail("device", "this build has no thrust-host backend: it needs Thrust's headers (CUDA's CCCL, "
                     "/usr/local/cuda/include/cccl) when Meson configures the build");
    case DeviceType::cuda:
      if (Backend* cuda = cuda_backend(device.index)) return *cuda;
      fail("device", "this build has no CUDA backend; configure with `meson setup build -Dcuda=enabled` on a machine with nvcc");
  }
  fail("device", "unknown device");
}

void require_device(Device device) { backend(device); }

MemoryStats memory_stats(Device device) { return backend(device).memory_stats(); }
void reset_peak_memory(Device device) { backend(device).reset_peak_memory(); }
void empty_cache(Device device) { backend(device).empty_cache(); }
LaunchStats launch_stats(Device device) { return backend(device).launch_stats(); }

LaunchStats launch_stats_all_devices() {
  LaunchStats total;
  for (DeviceType type : {DeviceType::cpu, DeviceType::thrust_host, DeviceType::cuda})
    if (g_device_used[static_cast<std::size_t>(type)].load(std::memory_order_relaxed))
      total += backend({type, 0}).launch_stats();
  return total;
}

namespace {
// The profiler (autodiff/profiler.hpp) shows each op's launches, synchronisations, transfers and
// driver allocations.
const bool g_profiler_counters = [] {
  autodiff::set_profiler_counter_source([] {
    const LaunchStats s = launch_stats_all_devices();
    return autodiff::ProfileCounters{s.kernel_launches, s.host_syncs, s.bytes_to_device, s.bytes_to_host,
                                     s.driver_allocations};
  });
  return true;
}();
}  // namespace

#if !defined(MTTT_HAVE_THRUST_HOST)
Backend* thrust_host_backend() { return nullptr; }
#endif
#if !defined(MTTT_HAVE_CUDA)
Backend* cuda_backend(int) { return nullptr; }
Device cuda_process_device() { return {DeviceType::cuda, 0}; }
#endif

}  // namespace mttt
