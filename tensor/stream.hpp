// Streams: ordered queues of work on a device. Work queued on one stream runs in order; work on
// two streams of a GPU may overlap (a data copy next to a training step, say). Each thread has a
// current stream per device, the default stream 0 until a StreamGuard says otherwise; kernels
// and allocations of a device go to its current stream.
//
// The CPU runs every op to completion before it returns and has only the default stream. The
// thrust-host device has streams that only keep memory apart (its work is synchronous too), which
// is how the CUDA backend's stream logic runs on machines without a GPU.
#pragma once

#include "tensor/backend/caching_allocator.hpp"
#include "tensor/core.hpp"

namespace mttt {

struct Stream {
  Device device = kCPU;
  StreamId id = 0;

  friend bool operator==(const Stream& a, const Stream& b) { return a.device == b.device && a.id == b.id; }
};

Stream default_stream(Device device);
// This thread's current stream on `device`.
Stream current_stream(Device device);
// A new stream on `device` (the CPU's is its default stream). Streams live as long as the process.
Stream new_stream(Device device);
// Waits until the work queued on `stream` so far is done.
void synchronize(Stream stream);
// Work queued on `stream` uses t's memory, which was allocated on another stream: the caching
// allocator holds the memory back, once t is freed, until that work is done.
void record_stream(const Tensor& t, Stream stream);

// Makes `stream` the current stream of its device on this thread for a scope; scopes nest.
class StreamGuard {
 public:
  explicit StreamGuard(Stream stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream previous_;
};

}  // namespace mttt
