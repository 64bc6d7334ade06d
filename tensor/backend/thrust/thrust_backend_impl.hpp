// The Thrust backend's methods, included by each instantiation (thrust_host.cpp for the host's
// OpenMP system; cuda/cuda_backend.cu for CUDA): one header per op family, each holding its
// kernels (functors) and the methods that check what a kernel cannot, pick the dtype and launch
// them, as the CPU backend's cpu/<family>.cpp.
#pragma once

#include "tensor/backend/thrust/copy.hpp"
#include "tensor/backend/thrust/elementwise.hpp"
#include "tensor/backend/thrust/index.hpp"
#include "tensor/backend/thrust/layer_norm.hpp"
#include "tensor/backend/thrust/random.hpp"
#include "tensor/backend/thrust/reduce.hpp"
#include "tensor/backend/thrust/softmax.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

ThrustBackend::ThrustBackend(Device device, std::unique_ptr<RawAllocator> raw, Gemm gemm,
                             std::unique_ptr<DeviceStreams> streams)
    : device_(device),
      streams_(std::move(streams)),
      allocator_(std::move(raw), std::size_t{2} << 30, streams_.get()),
      gemm_(std::move(gemm)) {}

LaunchStats ThrustBackend::launch_stats() const {
  return thrust_backend::launch_counters().snapshot(allocator_.stats().system_allocations);
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
