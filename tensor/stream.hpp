// Streams: ordered queues of work on a device. Work queued on one stream runs in order; work on
// two streams of a GPU may overlap (a data copy next to a training step, say). Each thread has a
// current stream per device, the default stream 0 until a StreamGuard says otherwise; kernels
// and allocations of a device go to its current stream.
//
// Streams made by new_stream() run beside the default stream with no implicit order between them
// (CUDA's non-blocking streams, as PyTorch's side streams): work on one that reads what another
// wrote waits for an Event recorded there, and memory one allocated and another uses is
// record_stream()ed, so that the allocator does not hand it out again too early.
//
// The CPU runs every op to completion before it returns and has only the default stream. The
// thrust-host device has streams that only keep memory apart (its work is synchronous too, and
// its events complete at once), which is how the CUDA backend's stream logic runs on machines
// without a GPU.
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
// A new stream on `device`, unordered with respect to the others (the CPU's is its default
// stream). Streams live as long as the process.
Stream new_stream(Device device);
// Waits until the work queued on `stream` so far is done.
void synchronize(Stream stream);
// Work queued on `stream` uses t's memory, which was allocated on another stream: the caching
// allocator holds the memory back, once t is freed, until that work is done.
void record_stream(const Tensor& t, Stream stream);

// A point in a stream's queued work (a CUDA event). wait() orders another stream's later work
// after it without the host waiting: how one stream consumes what another produced.
class Event {
 public:
  Event() = default;
  // An event that completes once the work queued on `stream` so far is done.
  static Event record(Stream stream);
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool recorded() const { return recorded_; }
  // Work queued on `stream` from now on starts after the event (a stream of the same device).
  void wait(Stream stream) const;
  // Whether the event's work is done, without waiting.
  bool completed() const;

 private:
  void release();
  Device device_ = kCPU;
  std::uint64_t handle_ = 0;
  bool recorded_ = false;
};

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
