#include "tensor/graph.hpp"

#include <vector>

#include "tensor/backend/backend.hpp"
#include "tensor/ops/transfer.hpp"
#include "tensor/ops/shape_ops.hpp"
#include "tensor/creation.hpp"

namespace mttt {

namespace {

struct HostInput {
  Tensor target;  // the graph's static tensor
  std::function<Tensor()> make;
};

// The capture under way on this thread, for host_input().
struct Recording {
  Device device;
  std::vector<HostInput> inputs;
};
thread_local Recording* g_recording = nullptr;

}  // namespace

struct Graph::State {
  std::unique_ptr<CapturedGraph> work;
  std::vector<HostInput> inputs;
};

void Graph::replay() const {
  check(state_ != nullptr, "replay", "the graph is empty (default-constructed or moved from)");
  Backend& b = backend(device_);
  for (const HostInput& in : state_->inputs) {
    const Tensor values = contiguous(in.make());
    check(values.device() == kCPU && values.shape() == in.target.shape() && values.dtype() == in.target.dtype(),
          "replay", "a host input made {} {} on {} where its capture made {} {}", to_string(values.shape()),
          to_string(values.dtype()), to_string(values.device()), to_string(in.target.shape()),
          to_string(in.target.dtype()));
    b.copy_from_host(values.data_ptr(), in.target);
  }
  state_->work->replay();
}

Graph capture(Device device, const std::function<void()>& work) {
  Backend& b = backend(device);
  check(g_recording == nullptr, "capture", "a graph capture is already under way on this thread");
  b.begin_capture();
  Recording recording{device, {}};
  g_recording = &recording;
  try {
    work();
  } catch (...) {
    g_recording = nullptr;
    try {
      b.end_capture();  // ends the device's capture; the partial graph is dropped
    } catch (...) {
    }
    throw;
  }
  g_recording = nullptr;
  Graph graph;
  graph.device_ = device;
  graph.state_ = std::make_shared<Graph::State>(Graph::State{b.end_capture(), std::move(recording.inputs)});
  return graph;
}

Tensor host_input(Device device, const std::function<Tensor()>& make) {
  Tensor values = make();
  check(values.device() == kCPU, "host_input", "make() must return a CPU tensor, got one on {}",
        to_string(values.device()));
  if (!g_recording || g_recording->device != device) return to(values, device);
  Tensor target = empty(values.shape(), {values.dtype(), device});
  g_recording->inputs.push_back({target, make});
  return target;
}

}  // namespace mttt
