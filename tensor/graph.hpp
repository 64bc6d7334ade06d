// Graphs: a piece of device work captured once and replayed, as CUDA Graphs do it. A replay
// launches every kernel of the capture in one call, so a step made of hundreds of small kernels
// costs the device's time, not the host's (docs/backends.md, "Graphs"):
//
//   step(); step();                                   // warm-up: caches fill, slots exist
//   Graph g = capture(device, [&] { step(); });       // recorded, not run
//   for (...) { copy_(static_images, batch); g.replay(); }
//
// What a replay does is what the capture saw: the same kernels on the same addresses. Tensors the
// captured work reads that were made before the capture (static inputs: parameters, input
// buffers) must stay alive as long as the graph; new values reach it by copy_ into them. Tensors
// made during the capture (its outputs) hold memory of the graph's private pool, which nothing
// else is given while the graph lives, and carry each replay's results. Inside a capture,
// nothing may wait for the device: reading a value (item(), a copy to the host, a reduction to a
// host value), synchronising a stream or copying from host memory throws, naming the operation;
// values the host makes for each run enter through host_input().
// Allocation sizes, shapes and control flow are fixed at capture: replay only work whose shapes
// and branches repeat.
//
// On cuda the capture is a CUDA stream capture (thread-local mode) on a stream of its own and the
// replay one cudaGraphLaunch on the current stream; thrust-host emulates both (every launch is
// recorded as a closure and replayed in order), so that the logic is tested without a GPU; the CPU
// cannot capture.
#pragma once

#include <functional>
#include <memory>

#include "tensor/core.hpp"

namespace mttt {

class CapturedGraph;

class Graph {
 public:
  Graph() = default;
  // Copies each host input's new values to the device (host_input below), then queues the
  // captured work on the device's current stream, without waiting. Each replay counts as one
  // kernel launch (tensor/backend/device_counters.hpp).
  void replay() const;
  bool empty() const { return state_ == nullptr; }
  Device device() const { return device_; }

 private:
  struct State;
  friend Graph capture(Device device, const std::function<void()>& work);
  Device device_ = kCPU;
  std::shared_ptr<State> state_;
};

// Captures the device work `work` queues on `device` from this thread, without running it.
// Throws what `work` throws (the capture is dropped), and for a device that cannot capture.
Graph capture(Device device, const std::function<void()>& work);

// Values the host makes afresh for every run of some work (SGD's token orders): `make` returns
// them as a CPU tensor. Outside a capture on `device`, they are copied to it at once. Inside one,
// the result is a static tensor of the graph, and every replay calls `make` again and copies its
// values (same shape and dtype) into it before the captured work runs; `make` is also called
// once at the capture, for the shape.
Tensor host_input(Device device, const std::function<Tensor()>& make);

}  // namespace mttt
