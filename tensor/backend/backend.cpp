#include "tensor/backend/backend.hpp"

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

Backend& backend(Device device) {
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
      if (Backend* cuda = cuda_backend()) return *cuda;
      fail("device", "this build has no CUDA backend; configure with `meson setup build -Dcuda=enabled` on a machine with nvcc");
  }
  fail("device", "unknown device");
}

MemoryStats memory_stats(Device device) { return backend(device).memory_stats(); }
void reset_peak_memory(Device device) { backend(device).reset_peak_memory(); }
void empty_cache(Device device) { backend(device).empty_cache(); }
LaunchStats launch_stats(Device device) { return backend(device).launch_stats(); }

#if !defined(MTTT_HAVE_THRUST_HOST)
Backend* thrust_host_backend() { return nullptr; }
#endif
#if !defined(MTTT_HAVE_CUDA)
Backend* cuda_backend() { return nullptr; }
#endif

}  // namespace mttt
