// The thrust-host device: the Thrust backend compiled with Thrust's OpenMP system, over host
// memory. It runs the CUDA backend's Thrust code on the CPU, so that its logic is tested on
// machines without a GPU (tests/parity); matrix products use the CPU backend's GEMM.
#include "tensor/backend/thrust/thrust_backend_impl.hpp"

namespace mttt {

Backend* thrust_host_backend() {
  // Never destroyed: static tensors may outlive main.
  static host_system::ThrustBackend* backend =
      new host_system::ThrustBackend({DeviceType::thrust_host, 0}, make_host_raw_allocator(),
                        [](const Tensor& a, const Tensor& b, const Tensor& out) { mttt::backend(kCPU).matmul(a, b, out); });
  return backend;
}

}  // namespace mttt
