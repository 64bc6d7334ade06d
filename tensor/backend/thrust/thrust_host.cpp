// The thrust-host device: the Thrust backend compiled with Thrust's OpenMP system, over host
// memory. It runs the CUDA backend's Thrust code on the CPU, so that its logic is tested on
// machines without a GPU (tests/parity); matrix products use the CPU backend's GEMM, each counted
// as one thrust-host launch (a cuBLAS call on CUDA).
#include "tensor/backend/thrust/thrust_backend_impl.hpp"

#include "tensor/backend/cpu/cpu_backend.hpp"

#include <atomic>
#include <cstring>

namespace mttt {

namespace {

class HostStreams final : public DeviceStreams {
 public:
  StreamId create() override { return ++last_; }
  void synchronize(StreamId) override {}
  void wait(StreamId, std::uint64_t) override {}
  std::uint64_t record(StreamId) override { return 0; }
  bool completed(std::uint64_t) override { return true; }
  void release(std::uint64_t) override {}
  void copy_to_device(const void* host, void* device, std::size_t bytes, StreamId) override {
    std::memcpy(device, host, bytes);
  }
  void copy_to_host(const void* device, void* host, std::size_t bytes, StreamId) override {
    std::memcpy(host, device, bytes);
  }

 private:
  std::atomic<StreamId> last_{0};
};

}  // namespace

std::unique_ptr<DeviceStreams> host_streams() { return std::make_unique<HostStreams>(); }

Backend* thrust_host_backend() {
  // Never destroyed: static tensors may outlive main.
  static host_system::ThrustBackend* backend = new host_system::ThrustBackend(
      {DeviceType::thrust_host, 0}, make_host_raw_allocator(),
      [](const Tensor& a, const Tensor& b, const Tensor& out) {
        host_system::thrust_backend::launch_counters().launch();
        host_system::thrust_backend::run_or_record(
            [a, b, out] { static_cast<CpuBackend&>(mttt::backend(kCPU)).gemm(a, b, out); });
      },
      host_streams());
  return backend;
}

}  // namespace mttt
