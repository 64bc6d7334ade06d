#include "nn/train/step_graph.hpp"


namespace mttt::nn {

StepGraph::StepGraph(Device device, std::int64_t warmup)
    : device_(device), warmup_(std::max<std::int64_t>(warmup, 1)) {
  check_step_graph_config(device, "stop", "StepGraph");
}

namespace {

bool same_layout(const Tensor& a, const Tensor& b) {
  return a.defined() && a.shape() == b.shape() && a.dtype() == b.dtype();
}


}  // namespace

Tensor StepGraph::run(const Tensor& images, const Tensor& labels, bool eager, const Work& work) {
  if (!images_.defined()) {
    images_ = empty(images.shape(), {images.dtype(), device_});
    labels_ = empty(labels.shape(), {labels.dtype(), device_});
  }
  const bool captured_shapes = same_layout(images_, images) && same_layout(labels_, labels);
  if (eager || !captured_shapes || (graph_.empty() && warm_steps_ < warmup_)) {
    if (captured_shapes && !eager) ++warm_steps_;
    return work(to(images, device_), to(labels, device_));
  }
  copy_(images_, images);  // queued on the current stream, without waiting
  copy_(labels_, labels);
  if (graph_.empty()) graph_ = capture(device_, [&] { loss_ = work(images_, labels_); });
  graph_.replay();
  ++replays_;
  return loss_;
}

void check_step_graph_config(Device device, const std::string& nonfinite, const std::string& where) {
  check(device.type != DeviceType::cpu, "config",
        "{}: run.cuda_graphs is for run.device cuda (or thrust-host, which emulates graphs for tests); the cpu runs "
        "each kernel as it is called and has nothing to capture",
        where);
  check(nonfinite == "stop", "config",
        "{}: run.cuda_graphs needs run.nonfinite = stop: skip reads the loss back between the backward pass and the "
        "update, inside the step a graph captures",
        where);
}

void check_step_graph_ranks(int ranks, bool nccl) {
  check(ranks <= 1 || nccl, "run.cuda_graphs",
        "{} ranks all-reduce their gradients through MPI, which a CUDA graph cannot capture; turn run.cuda_graphs off "
        "or use NCCL",
        ranks);
}

}  // namespace mttt::nn
