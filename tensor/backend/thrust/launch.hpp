// What every kernel of the Thrust backend is launched with: parallel_for and parallel_reduce on
// the current stream, typed data pointers, scratch memory from the caching allocator. Included
// by each op family's header (copy.hpp, elementwise.hpp, ...) for each instantiation (host
// OpenMP; CUDA).
#pragma once

#include <thrust/copy.h>
#include <thrust/device_ptr.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform_reduce.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/backend/thrust/layout.hpp"
#include "tensor/backend/thrust/thrust_backend.hpp"
#include "tensor/error.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

using mttt::thrust_backend::AxisSplit;
using mttt::thrust_backend::Layout;
using mttt::thrust_backend::layout_of;
using mttt::thrust_backend::make_layout;
using mttt::thrust_backend::split_axis;
using Index = std::int64_t;

// This instantiation's counters (tensor/backend/device_counters.hpp): every launch helper below
// counts what it starts, and a kernel launched by hand counts itself.
inline DeviceCounters& launch_counters() {
  static DeviceCounters counters;
  return counters;
}

// This instantiation's device (its Backend: backend(this_device())): on CUDA the process's GPU.
#if defined(__CUDACC__)
inline Device this_device() { return cuda_process_device(); }
#else
inline Device this_device() { return {DeviceType::thrust_host, 0}; }
#endif

// Thrust's temporary storage (a reduction's partial results) from the backend's caching
// allocator on the current stream, so that no algorithm reaches cudaMalloc on its own.
struct ScratchAllocator {
  using value_type = char;
  char* allocate(std::ptrdiff_t n) {
    return static_cast<char*>(backend(this_device()).allocate(static_cast<std::size_t>(std::max<std::ptrdiff_t>(n, 1))));
  }
  void deallocate(char* p, std::size_t n) { backend(this_device()).deallocate(p, std::max<std::size_t>(n, 1)); }
};

// Throws an index violation recorded on the device (index_checks.hpp); called after each
// synchronisation.
inline void raise_deferred_index_error();

// A graph capture under way on this thread (ThrustBackend::begin_capture, tensor/graph.hpp).
// On CUDA the stream capture records the kernels; on the host every launch is kept here as a
// closure instead of running, and the replay runs them in order.
struct CaptureState {
  std::uint64_t pool = 0;  // the caching allocator's private pool of the graph
  std::vector<std::function<void()>> work;  // the host's launches, in order
  std::vector<std::pair<unsigned long long, const char*>> index_checks;  // launch numbers and ops (index_checks.hpp)
  std::vector<std::shared_ptr<const void>> keep;  // device memory the captured kernels read (long programs)
};

inline CaptureState*& this_thread_capture() {
  thread_local CaptureState* capture = nullptr;
  return capture;
}

// Under a capture nothing may wait for the device: on CUDA the wait would invalidate the capture,
// and a value read back would be the capture's, not a replay's.
inline void refuse_in_capture(const char* op, const char* what) {
  if (this_thread_capture())
    throw_error(op, std::string(what) +
                        " synchronises with the host inside a graph capture; a captured graph cannot wait for the "
                        "device: read values after replay(), outside the capture");
}

// Counts a wait of the host for the device, which a capture refuses.
inline void host_sync(const char* op, const char* what) {
  refuse_in_capture(op, what);
  launch_counters().sync();
}

// Runs host work now, or records it for the replays while this thread captures.
template <class Work> void run_or_record(Work&& work) {
  if (CaptureState* capture = this_thread_capture()) {
    capture->work.emplace_back(std::forward<Work>(work));
    return;
  }
  work();
}

// Every kernel is launched here, on CUDA on the device's current stream without waiting for it
// (par_nosync): work queued on a stream runs in order, memory returned to the caching allocator
// is reused only in that order, and the host waits only where a value crosses to it.
template <class F> void parallel_for(Index n, F f) {
  if (n <= 0) return;
  launch_counters().launch();
#if defined(__CUDACC__)
  const auto stream = reinterpret_cast<cudaStream_t>(current_stream(this_device()).id);
  thrust::for_each_n(thrust::cuda::par_nosync.on(stream), thrust::counting_iterator<Index>(0), n, f);
#else
  run_or_record([n, f] { thrust::for_each_n(thrust::device, thrust::counting_iterator<Index>(0), n, f); });
#endif
}

// The reduction of f(0), ..., f(n - 1) with `combine`, from `init`, on the current stream.
// The result crosses to the host: a synchronisation.
template <class T, class F, class Combine> T parallel_reduce(Index n, F f, T init, Combine combine) {
  if (n <= 0) return init;
  host_sync("reduce", "a reduction whose result crosses to the host");
  launch_counters().launch();
  ScratchAllocator scratch;
#if defined(__CUDACC__)
  const auto stream = reinterpret_cast<cudaStream_t>(current_stream(this_device()).id);
  const T result = thrust::transform_reduce(thrust::cuda::par(scratch).on(stream), thrust::counting_iterator<Index>(0),
                                            thrust::counting_iterator<Index>(n), f, init, combine);
#else
  const T result = thrust::transform_reduce(thrust::device(scratch), thrust::counting_iterator<Index>(0),
                                            thrust::counting_iterator<Index>(n), f, init, combine);
#endif
  raise_deferred_index_error();
  return result;
}

template <class T> T* typed(const Tensor& t) { return static_cast<T*>(t.data_ptr()); }

// Scratch memory of the device from the backend's caching allocator (on its current stream),
// so that staging a transfer or an elementwise program never calls cudaMalloc. The memory goes
// back when the buffer does, while kernels using it may still be queued: the allocator hands it
// out again only on the same stream, after them.
template <class T> class DeviceBuffer {
 public:
  DeviceBuffer(Backend& backend, Index n)
      : backend_(backend), bytes_(static_cast<std::size_t>(std::max<Index>(n, 1)) * sizeof(T)),
        data_(static_cast<T*>(backend.allocate(bytes_))) {}
  // A copy of host memory.
  DeviceBuffer(Backend& backend, const T* host, Index n) : DeviceBuffer(backend, n) {
    if (n > 0) static_cast<ThrustBackend&>(backend).upload(host, data_, static_cast<std::size_t>(n) * sizeof(T));
  }
  ~DeviceBuffer() { backend_.deallocate(data_, bytes_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* data() const { return data_; }

 private:
  Backend& backend_;
  std::size_t bytes_;
  T* data_;
};

// The layout of `t` broadcast to `shape`.
inline Layout broadcast_layout(const Tensor& t, const Shape& shape) {
  return make_layout(shape, broadcast_strides(t.shape(), t.strides(), shape));
}

}  // namespace thrust_backend

}  // namespace mttt::MTTT_THRUST_SYSTEM
