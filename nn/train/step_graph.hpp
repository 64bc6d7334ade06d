// run.cuda_graphs: a training step captured once and replayed for the steps after it
// (tensor/graph.hpp; docs/backends.md, "Graphs"). The step's device work (forward, backward,
// clipping, the optimiser's update) reads its batch from static input tensors, which each step's
// batch is copied into, and leaves its loss in a static output; SGD token orders enter through
// host_input(), drawn for each replay. A replay is one launch where the eager step is hundreds.
//
// Steps run eagerly while the caches warm up (the optimiser's slots, the device's long
// programs), when the caller asks (a step that reads values back, such as inner losses), and
// for batch shapes other than the captured ones; an eager step and a replay compute the same
// values, bit for bit (tests/parity/test_step_graph.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "tensor/graph.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

class StepGraph {
 public:
  // `warmup`: eager steps of the captured shapes before the capture (at least 1).
  explicit StepGraph(Device device, std::int64_t warmup = 2);

  // The step's device work on images and labels already on the device; returns its loss.
  using Work = std::function<Tensor(const Tensor& images, const Tensor& labels)>;
  // One step of `work` on a batch's images and labels (on the device, or in host memory):
  // eagerly (see above, or where `eager`), else as a replay of its capture. Returns the step's loss on the device, a static output after a replay.
  Tensor run(const Tensor& images, const Tensor& labels, bool eager, const Work& work);

  std::int64_t replays() const { return replays_; }
  bool captured() const { return !graph_.empty(); }

 private:
  Device device_;
  std::int64_t warmup_, warm_steps_ = 0, replays_ = 0;
  Tensor images_, labels_;  // static inputs, of the first shapes seen
  Tensor loss_;             // static output
  Graph graph_;
};

// Refuses run.cuda_graphs where a step cannot be captured, naming `where` (the config): on the
// cpu, which runs each kernel as it is called, and with run.nonfinite = skip, which reads the
// loss back between the backward pass and the update.
void check_step_graph_config(Device device, const std::string& nonfinite, const std::string& where);

// Refuses run.cuda_graphs for `ranks` processes whose gradients are all-reduced by MPI, which a
// graph cannot capture (NCCL's collectives can be). Data-parallel training calls it.
void check_step_graph_ranks(int ranks, bool nccl);

}  // namespace mttt::nn
