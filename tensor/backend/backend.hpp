// The interface every device implements: memory, data movement and the compute kernels the
// operations need. Kernels write into an output the caller allocated; they know nothing
// about autodiff (tensor/ops/ records the tape around them). An op is declared once here
// and defined per device under backend/<device>/.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tensor/backend/caching_allocator.hpp"
#include "tensor/backend/device_counters.hpp"
#include "tensor/core.hpp"
#include "tensor/device_stats.hpp"
#include "tensor/expr/program.hpp"
#include "tensor/random.hpp"

namespace mttt {

enum class ReduceOp : std::uint8_t { sum, max, min, argmax, argmin };

// A device's captured work (Backend::end_capture, tensor/graph.hpp).
class CapturedGraph {
 public:
  virtual ~CapturedGraph() = default;
  // Queues the captured work on the device's current stream.
  virtual void replay() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // --- memory --------------------------------------------------------------------------
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* pointer, std::size_t bytes) = 0;
  virtual MemoryStats memory_stats() const = 0;
  virtual void reset_peak_memory() = 0;
  virtual void empty_cache() = 0;
  // Launches, synchronisations, transfers and driver allocations since the process started
  // (tensor/backend/device_counters.hpp); differences between two calls measure a piece of work.
  virtual LaunchStats launch_stats() const = 0;

  // --- streams (tensor/stream.hpp) ---------------------------------------------------------
  // allocate() serves the device's current stream on the calling thread. The CPU has only the
  // default stream 0: its create_stream() returns it, and there is nothing to wait for.
  virtual StreamId create_stream() { return 0; }
  virtual void synchronize(StreamId) {}
  virtual void record_stream(void* /*pointer*/, StreamId /*stream*/) {}
  // Events (tensor/stream.hpp's Event): the CPU's work is done when queued, so its events are
  // complete at once and waiting for one is nothing.
  virtual std::uint64_t record_event(StreamId /*stream*/) { return 0; }
  virtual void wait_event(StreamId /*stream*/, std::uint64_t /*event*/) {}
  virtual bool event_completed(std::uint64_t /*event*/) { return true; }
  virtual void release_event(std::uint64_t /*event*/) {}

  // --- data movement -------------------------------------------------------------------
  // dst has src's shape; both may be strided; dtypes may differ (converted).
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  virtual void fill(const Tensor& dst, double value) = 0;
  // Contiguous host memory of dst's dtype <-> tensor (dst/src may be strided).
  virtual void copy_from_host(const void* host, const Tensor& dst) = 0;
  virtual void copy_to_host(const Tensor& src, void* host) = 0;

  // --- compute -------------------------------------------------------------------------
  // outs[j] (contiguous, the broadcast shape) = output j of program(inputs broadcast to that
  // shape), all outputs in one pass; one per program output. Inputs the program does not read
  // may be undefined.
  virtual void elementwise(const expr::Program& program, std::span<const Tensor> inputs,
                           std::span<const Tensor> outs) = 0;
  // Reduces the axes set in `axes` (bit i = axis i); out has x's shape with those axes of
  // size 1 and is contiguous; for argmax/argmin it is int64.
  virtual void reduce(ReduceOp op, const Tensor& x, std::uint32_t axes, const Tensor& out) = 0;
  // out[..., m, n] = sum_k a[..., m, k] b[..., k, n]; a and b already broadcast to out's
  // batch shape (stride 0 on broadcast axes); out contiguous.
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // --- fused kernels -------------------------------------------------------------------
  // Each has a composite default (backend/composite.cpp): the same math written once with
  // tensor-level ops, so that it runs on the other kernels. A new fused op, or a new backend,
  // works before anyone writes a kernel for it; a backend overrides one where its own is faster
  // (the CPU and Thrust backends override all of them). docs/design.md, "Adding a fused op".
  // Softmax (or log-softmax) along `axis`; out contiguous with x's shape.
  virtual void softmax(const Tensor& x, int axis, bool log, const Tensor& out);
  // Normalises over the last axis: (x - mean) / sqrt(var + eps) * scale + bias (scale and
  // bias may be undefined); out contiguous.
  virtual void layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps, const Tensor& out);
  // The input gradient of layer_norm without scale and bias, given gy, the output's gradient
  // times the scale (x and gy of one shape): with r = (var + eps)^(-1/2) and x-hat = (x - mean) r
  // over the last axis, out = r (gy - mean(gy) - x-hat mean(gy x-hat)); out contiguous.
  virtual void layer_norm_backward(const Tensor& x, const Tensor& gy, double eps, const Tensor& out);
  // The vjp of layer_norm_backward for a cotangent u (x, gy, u of one shape):
  // x_bar = r (c - mean(c) - x-hat mean(c x-hat)) - r^2 a x-hat with c = -r (m2 u + mean(u x-hat) gy),
  // a = mean(u gy) - m1 mean(u) - m2 mean(u x-hat), m1 = mean(gy), m2 = mean(gy x-hat); and
  // gy_bar = r (u - mean(u) - x-hat mean(u x-hat)). Either output may be undefined (not wanted);
  // the defined ones are contiguous.
  virtual void layer_norm_backward_vjp(const Tensor& x, const Tensor& gy, const Tensor& u, double eps,
                                       const Tensor& x_bar, const Tensor& gy_bar);

  // --- random numbers, indexing --------------------------------------------------------
  virtual void uniform(const PhiloxStream& stream, double low, double high, const Tensor& out) = 0;
  virtual void normal(const PhiloxStream& stream, double mean, double stddev, const Tensor& out) = 0;
  virtual void arange(double start, double step, const Tensor& out) = 0;
  // out = x.index_select(axis, index); index is int64 of any shape... flattened (1-D).
  virtual void index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) = 0;
  // out (pre-filled) += src scattered along axis at index (1-D): the adjoint of index_select.
  virtual void index_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) = 0;
  // out[i..., j, k...] = x[i..., index[i..., j, k...], k...] (index has out's shape).
  virtual void gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) = 0;
  // out (pre-filled) [i..., index[i..., j, k...], k...] += src[i..., j, k...]: the adjoint of gather.
  virtual void scatter_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) = 0;

  // --- checks --------------------------------------------------------------------------
  // Every value of `index` (int64) lies in [0, size); `op` names the operation in the error.
  // The CPU checks at once. A device checks on the device without waiting for it, records the
  // first violation in device memory and throws it, naming `op` and the bad index, at its next
  // synchronisation (a value read back, a stream synchronised), so that a training step's checks
  // cost no host synchronisation (docs/backends.md).
  virtual void check_index_range(const Tensor& index, std::int64_t size, const char* op);

  // --- graphs (tensor/graph.hpp) ---------------------------------------------------------
  // Captures the work this thread queues on the device between the two calls without running
  // it, as a graph that replays it; its allocations come from a pool of its own. The CPU cannot
  // (it throws, saying so). end_capture() also ends a capture that failed (the caller drops it).
  virtual void begin_capture();
  virtual std::unique_ptr<CapturedGraph> end_capture();
};

// Aligned host memory (64 bytes), the raw allocator under host devices' caching allocators.
std::unique_ptr<RawAllocator> make_host_raw_allocator();

// The Thrust backends (tensor/backend/thrust/): thrust-host (Thrust's OpenMP system over host
// memory) and CUDA; null where this build lacks them. CUDA computes on one GPU per process, as
// data-parallel training runs one process per GPU: the first cuda:N asked for selects GPU N
// (cudaSetDevice, on the thread that asks), and another index is refused after that.
// cuda_backend() throws, naming the CUDA call and its error, when no GPU can be used.
Backend* thrust_host_backend();
Backend* cuda_backend(int index);
// The process's GPU once the CUDA backend exists (cuda:0 before).
Device cuda_process_device();

// The backend of a device; throws, with how to build it, for a device this build lacks.
Backend& backend(Device device);
inline Backend& backend_of(const Tensor& t) { return t.storage()->backend(); }

// While it lives, backend(device) returns `substitute` for devices of `type`, on every thread
// (storage keeps the backend it was allocated from). For tests: a backend that leaves the fused
// kernels to their composite defaults (tests/tensor/composite_backend.hpp).
class BackendSubstitution {
 public:
  BackendSubstitution(DeviceType type, Backend& substitute);
  ~BackendSubstitution();
  BackendSubstitution(const BackendSubstitution&) = delete;
  BackendSubstitution& operator=(const BackendSubstitution&) = delete;

 private:
  DeviceType type_;
  Backend* previous_;
};

}  // namespace mttt
