// The Thrust backend: every kernel of the Backend interface written once with Thrust
// algorithms and functors (one header per op family: copy.hpp, reduce.hpp, ...), compiled for the
// host with Thrust's OpenMP system as the device `thrust-host` (thrust_host.cpp), and by nvcc for
// CUDA. Memory comes from the caching allocator over an injected raw allocator; matrix products go
// to a GEMM supplied by the instantiation (the CPU backend's on the host, cuBLAS on a GPU), and so
// do its streams.
#pragma once

#include <functional>
#include <memory>

#include "tensor/backend/backend.hpp"
#include "tensor/stream.hpp"

// Each instantiation gets its own namespace: the host's OpenMP build and nvcc's CUDA build of
// the same class live in one library.
#if defined(__CUDACC__)
#define MTTT_THRUST_SYSTEM cuda_system
#else
#define MTTT_THRUST_SYSTEM host_system
#endif

namespace mttt {

// How an instantiation makes and waits for streams and their events, and moves bytes between
// host and device memory on them: CUDA's on a GPU. On the host (host_streams()), where Thrust's
// OpenMP system finishes every algorithm before it returns, streams are numbers that keep memory
// apart, every event is complete at once and a copy is a memcpy.
class DeviceStreams : public StreamEvents {
 public:
  virtual StreamId create() = 0;
  virtual void synchronize(StreamId stream) = 0;
  // Work queued on `stream` from now on waits for `event` (from record()), without the host waiting.
  virtual void wait(StreamId stream, std::uint64_t event) = 0;
  // Queues a copy of host memory to the device on `stream` and returns without waiting: the
  // bytes are staged in pinned host memory first (CUDA), so `host` may be reused at once.
  virtual void copy_to_device(const void* host, void* device, std::size_t bytes, StreamId stream) = 0;
  // Copies device memory to the host once the work queued on `stream` is done (a synchronisation).
  virtual void copy_to_host(const void* device, void* host, std::size_t bytes, StreamId stream) = 0;
  // Calls to the raw allocator of pinned staging memory (cudaHostAlloc); 0 on the host.
  virtual std::int64_t staging_allocations() const { return 0; }
  // Graph capture (tensor/graph.hpp). CUDA: begin_capture() returns a stream of its own that
  // waits for `current` and is capturing; end_capture() ends that capture and returns a function
  // that launches the instantiated graph on a stream. The host returns `current` and an empty
  // function: the Thrust backend records its launches itself.
  virtual StreamId begin_capture(StreamId current) { return current; }
  virtual std::function<void(StreamId)> end_capture(StreamId /*capturing*/) { return {}; }
};

std::unique_ptr<DeviceStreams> host_streams();

}  // namespace mttt

namespace mttt::MTTT_THRUST_SYSTEM {

class ThrustBackend final : public Backend {
 public:
  using Gemm = std::function<void(const Tensor& a, const Tensor& b, const Tensor& out)>;
  ThrustBackend(Device device, std::unique_ptr<RawAllocator> raw, Gemm gemm, std::unique_ptr<DeviceStreams> streams);
  Device device() const override { return device_; }

  StreamId create_stream() override { return streams_->create(); }
  void synchronize(StreamId stream) override;
  void record_stream(void* pointer, StreamId stream) override { allocator_.record_stream(pointer, stream); }
  std::uint64_t record_event(StreamId stream) override;
  void wait_event(StreamId stream, std::uint64_t event) override;
  bool event_completed(std::uint64_t event) override { return streams_->completed(event); }
  void release_event(std::uint64_t event) override { streams_->release(event); }

  // Inside a capture on this thread, from the graph's pool.
  void* allocate(std::size_t bytes) override;
  void deallocate(void* pointer, std::size_t bytes) override { allocator_.deallocate(pointer, bytes); }
  MemoryStats memory_stats() const override { return allocator_.stats(); }
  void reset_peak_memory() override { allocator_.reset_peak(); }
  void empty_cache() override { allocator_.empty_cache(); }
  LaunchStats launch_stats() const override;

  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& dst, double value) override;
  void copy_from_host(const void* host, const Tensor& dst) override;
  void copy_to_host(const Tensor& src, void* host) override;
  void elementwise(const expr::Program& program, std::span<const Tensor> inputs, std::span<const Tensor> outs) override;
  void reduce(ReduceOp op, const Tensor& x, std::uint32_t axes, const Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override { gemm_(a, b, out); }
  void softmax(const Tensor& x, int axis, bool log, const Tensor& out) override;
  void layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps, const Tensor& out) override;
  void layer_norm_backward(const Tensor& x, const Tensor& gy, double eps, const Tensor& out) override;
  void layer_norm_backward_vjp(const Tensor& x, const Tensor& gy, const Tensor& u, double eps, const Tensor& x_bar,
                               const Tensor& gy_bar) override;
  void uniform(const PhiloxStream& stream, double low, double high, const Tensor& out) override;
  void normal(const PhiloxStream& stream, double mean, double stddev, const Tensor& out) override;
  void arange(double start, double step, const Tensor& out) override;
  void index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override;
  void index_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) override;
  void gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) override;
  void check_index_range(const Tensor& index, std::int64_t size, const char* op) override;
  void begin_capture() override;
  std::unique_ptr<CapturedGraph> end_capture() override;
  // A graph is gone: its pool's memory goes back to `stream`, where its last replay ran.
  void release_pool(std::uint64_t pool, StreamId stream) { allocator_.release_pool(pool, stream); }

  // Host memory to device memory on the current stream, without waiting (counted as a transfer).
  void upload(const void* host, void* device, std::size_t bytes);
  // Device memory to host memory after the current stream's work (a synchronisation, which also
  // raises a recorded index violation). `after_sync`: the stream was just synchronised, so the
  // copy's own wait finds it idle and is not counted again.
  void download(const void* device, void* host, std::size_t bytes, bool after_sync = false);

 private:
  void elementwise_by_instruction(const expr::Program& program, std::span<const Tensor> inputs,
                                  std::span<const Tensor> outs);

  Device device_;
  std::unique_ptr<DeviceStreams> streams_;  // before the allocator, which uses its events
  CachingAllocator allocator_;
  Gemm gemm_;
};

}  // namespace mttt::MTTT_THRUST_SYSTEM
