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
  return thrust_backend::launch_counters().snapshot(allocator_.stats().system_allocations +
                                                    streams_->staging_allocations());
}

void ThrustBackend::synchronize(StreamId stream) {
  thrust_backend::launch_counters().sync();
  streams_->synchronize(stream);
  thrust_backend::raise_deferred_index_error();
}

void ThrustBackend::check_index_range(const Tensor& index, std::int64_t size, const char* op) {
  if (index.device() != device_ || index.dtype() != DType::int64)
    throw_error(op, "indices must be an int64 tensor on " + to_string(device_) + ", got " +
                        std::string(to_string(index.dtype())) + " on " + to_string(index.device()));
  thrust_backend::check_indices(index, size, op);
}

void ThrustBackend::upload(const void* host, void* device, std::size_t bytes) {
  if (bytes == 0) return;
  thrust_backend::launch_counters().to_device(static_cast<std::int64_t>(bytes));
  streams_->copy_to_device(host, device, bytes, current_stream(device_).id);
}

void ThrustBackend::download(const void* device, void* host, std::size_t bytes, bool after_sync) {
  if (bytes == 0) return;
  if (!after_sync) thrust_backend::launch_counters().sync();
  thrust_backend::launch_counters().to_host(static_cast<std::int64_t>(bytes));
  streams_->copy_to_host(device, host, bytes, current_stream(device_).id);
  thrust_backend::raise_deferred_index_error();
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
