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

void* ThrustBackend::allocate(std::size_t bytes) {
  if (const thrust_backend::CaptureState* capture = thrust_backend::this_thread_capture())
    return allocator_.allocate_in_pool(bytes, capture->pool);
  return allocator_.allocate(bytes, current_stream(device_).id);
}

void ThrustBackend::synchronize(StreamId stream) {
  thrust_backend::host_sync("synchronize", "synchronising a stream");
  streams_->synchronize(stream);
  thrust_backend::raise_deferred_index_error();
}

// Events order work across streams; a capture records one stream's work alone, so they are refused
// inside one (a batch's copy is waited for before the replay, outside it).
std::uint64_t ThrustBackend::record_event(StreamId stream) {
  if (thrust_backend::this_thread_capture())
    throw_error("Event::record", "an event cannot be recorded inside a graph capture; record it before or after");
  return streams_->record(stream);
}

void ThrustBackend::wait_event(StreamId stream, std::uint64_t event) {
  if (thrust_backend::this_thread_capture())
    throw_error("Event::wait", "a stream cannot wait for an event inside a graph capture; wait before it begins");
  streams_->wait(stream, event);
}

void ThrustBackend::check_index_range(const Tensor& index, std::int64_t size, const char* op) {
  if (index.device() != device_ || index.dtype() != DType::int64)
    throw_error(op, "indices must be an int64 tensor on " + to_string(device_) + ", got " +
                        std::string(to_string(index.dtype())) + " on " + to_string(index.device()));
  thrust_backend::check_indices(index, size, op);
}

void ThrustBackend::upload(const void* host, void* device, std::size_t bytes) {
  if (bytes == 0) return;
  if (thrust_backend::this_thread_capture())
    throw_error("copy_from_host",
                "a copy from host memory cannot be captured in a graph (its bytes would be the capture's on every "
                "replay, and staging them waits for the device); copy into the graph's static input tensors before "
                "replay(), outside the capture");
  thrust_backend::launch_counters().to_device(static_cast<std::int64_t>(bytes));
  streams_->copy_to_device(host, device, bytes, current_stream(device_).id);
}

void ThrustBackend::download(const void* device, void* host, std::size_t bytes, bool after_sync) {
  if (bytes == 0) return;
  thrust_backend::refuse_in_capture("copy_to_host", "a copy to the host (item(), to_vector(), to(cpu))");
  if (!after_sync) thrust_backend::launch_counters().sync();
  thrust_backend::launch_counters().to_host(static_cast<std::int64_t>(bytes));
  streams_->copy_to_host(device, host, bytes, current_stream(device_).id);
  thrust_backend::raise_deferred_index_error();
}

namespace thrust_backend {

// A capture's work: on CUDA the instantiated graph, launched on the current stream; on the host
// the recorded launches, run in order (or recorded again inside another capture).
class ThrustGraph final : public CapturedGraph {
 public:
  ThrustGraph(ThrustBackend& backend, std::unique_ptr<CaptureState> state, std::function<void(StreamId)> launch)
      : backend_(backend), state_(std::move(state)), launch_(std::move(launch)) {}
  ~ThrustGraph() override {
    launch_ = nullptr;  // the CUDA graph goes first
    forget_captured_checks(state_->index_checks);
    backend_.release_pool(state_->pool, last_stream_);
  }
  void replay() override {
    launch_counters().launch();
    last_stream_ = current_stream(backend_.device()).id;
    if (launch_) {
      launch_(last_stream_);
    } else {
      const CaptureState* state = state_.get();
      run_or_record([state] {
        for (const auto& work : state->work) work();
      });
    }
    if (!state_->index_checks.empty()) index_checks_replayed();
  }

 private:
  ThrustBackend& backend_;
  std::unique_ptr<CaptureState> state_;
  std::function<void(StreamId)> launch_;
  StreamId last_stream_ = 0;
};

// The thread's capture and the stream guard that keeps the capturing stream current.
struct ActiveCapture {
  std::unique_ptr<CaptureState> state;
  std::unique_ptr<StreamGuard> on_stream;
  StreamId stream = 0;
};

inline std::unique_ptr<ActiveCapture>& this_thread_active_capture() {
  thread_local std::unique_ptr<ActiveCapture> active;
  return active;
}

}  // namespace thrust_backend

void ThrustBackend::begin_capture() {
  auto& active = thrust_backend::this_thread_active_capture();
  if (active) throw_error("capture", "a graph capture is already under way on this thread on " + to_string(device_));
  thrust_backend::index_record(*this);  // the index checks' record exists before the capture
  auto capture = std::make_unique<thrust_backend::ActiveCapture>();
  capture->state = std::make_unique<thrust_backend::CaptureState>();
  capture->state->pool = allocator_.create_pool();
  capture->stream = streams_->begin_capture(current_stream(device_).id);
  capture->on_stream = std::make_unique<StreamGuard>(Stream{device_, capture->stream});
  allocator_.set_capturing(true);
  thrust_backend::this_thread_capture() = capture->state.get();
  active = std::move(capture);
}

std::unique_ptr<CapturedGraph> ThrustBackend::end_capture() {
  auto& active = thrust_backend::this_thread_active_capture();
  if (!active) throw_error("capture", "no graph capture is under way on this thread on " + to_string(device_));
  std::unique_ptr<thrust_backend::ActiveCapture> capture = std::move(active);
  thrust_backend::this_thread_capture() = nullptr;
  allocator_.set_capturing(false);
  capture->on_stream.reset();
  std::function<void(StreamId)> launch;
  try {
    launch = streams_->end_capture(capture->stream);
  } catch (...) {
    thrust_backend::forget_captured_checks(capture->state->index_checks);
    allocator_.release_pool(capture->state->pool, current_stream(device_).id);
    throw;
  }
  return std::make_unique<thrust_backend::ThrustGraph>(*this, std::move(capture->state), std::move(launch));
}

}  // namespace mttt::MTTT_THRUST_SYSTEM
