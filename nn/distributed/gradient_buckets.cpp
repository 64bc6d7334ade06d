#include "nn/distributed/gradient_buckets.hpp"

#include <chrono>

namespace mttt::nn {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

GradientBuckets::GradientBuckets(std::vector<Tensor> parameters, distributed::Communicator& comm, std::size_t bucket_bytes)
    : parameters_(std::move(parameters)), comm_(comm), bucket_of_(parameters_.size()) {
  check(bucket_bytes > 0, "GradientBuckets", "bucket_bytes must be positive");
  Bucket current;
  std::int64_t elements = 0;
  auto close = [&] {
    if (current.members.empty()) return;
    const Tensor& first = parameters_[current.members.front()];
    current.flags = elements;
    current.flat = Tensor::empty({elements + static_cast<std::int64_t>(current.members.size())}, first.dtype(), first.device());
    for (std::size_t m : current.members) bucket_of_[m] = buckets_.size();
    buckets_.push_back(std::move(current));
    current = Bucket();
    elements = 0;
  };
  for (std::size_t k = parameters_.size(); k-- > 0;) {
    const Tensor& p = parameters_[k];
    check(p.defined(), "GradientBuckets", "parameter {} is undefined", k);
    check(is_floating(p.dtype()), "GradientBuckets", "parameter {} is {}: gradients are floating", k, to_string(p.dtype()));
    if (!current.members.empty()) {
      const Tensor& first = parameters_[current.members.front()];
      const auto bytes = (elements + p.numel()) * static_cast<std::int64_t>(itemsize(p.dtype()));
      if (first.dtype() != p.dtype() || first.device() != p.device() || bytes > static_cast<std::int64_t>(bucket_bytes))
        close();
    }
    current.offsets.push_back(elements);
    current.members.push_back(k);
    elements += p.numel();
    if (p.node()) index_of_node_[p.node().get()] = k;
  }
  close();
}

std::int64_t GradientBuckets::bytes_per_step() const {
  std::int64_t bytes = 0;
  for (const Bucket& b : buckets_) bytes += b.flat.numel() * static_cast<std::int64_t>(itemsize(b.flat.dtype()));
  return bytes;
}

void GradientBuckets::begin_step() {
  pending_.clear();
  for (const Bucket& b : buckets_) pending_.push_back(b.members.size());
  next_launch_ = 0;
  in_flight_.clear();
}

void GradientBuckets::backward(const Tensor& loss) {
  if (comm_.size() == 1) {
    loss.backward();
    return;
  }
  begin_step();
  mttt::backward({loss}, {}, false, [this](const autodiff::Node<Tensor>* leaf) {
    if (auto it = index_of_node_.find(leaf); it != index_of_node_.end()) parameter_ready(it->second);
  });
  launch_ready_buckets(true);
  finish();
}

void GradientBuckets::average() {
  if (comm_.size() == 1) return;
  begin_step();
  launch_ready_buckets(true);
  finish();
}

void GradientBuckets::parameter_ready(std::size_t index) {
  std::size_t& left = pending_[bucket_of_[index]];
  if (left > 0) --left;
  launch_ready_buckets(false);
}

// Starts the next buckets in order while they are ready (every one, ready or not, when flushing).
void GradientBuckets::launch_ready_buckets(bool flush) {
  NoGrad no_grad;
  while (next_launch_ < buckets_.size() && (flush || pending_[next_launch_] == 0)) {
    Bucket& b = buckets_[next_launch_++];
    for (std::size_t j = 0; j < b.members.size(); ++j) {
      const Tensor& p = parameters_[b.members[j]];
      Tensor slot = reshape(slice(b.flat, 0, b.offsets[j], b.offsets[j] + p.numel()), p.shape());
      const Tensor g = p.grad();
      if (g.defined())
        copy_(slot, g);
      else
        fill_(slot, 0);
      const auto flag = b.flags + static_cast<std::int64_t>(j);
      fill_(slice(b.flat, 0, flag, flag + 1), g.defined() ? 1.0 : 0.0);
    }
    const auto start = std::chrono::steady_clock::now();
    in_flight_.push_back(comm_.all_reduce_async(b.flat, distributed::Reduction::average));
    communication_seconds_ += seconds_since(start);
  }
}

void GradientBuckets::finish() {
  NoGrad no_grad;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    in_flight_[i]->wait();
    communication_seconds_ += seconds_since(start);
    Bucket& b = buckets_[i];
    // The flags matter only for a gradient this rank lacks: read them (a host synchronisation on
    // a GPU) only then.
    bool all_local = true;
    for (std::size_t m : b.members) all_local = all_local && parameters_[m].grad().defined();
    std::vector<double> flags(b.members.size(), 1.0);
    if (!all_local)
      flags = cast(slice(b.flat, 0, b.flags, b.flags + static_cast<std::int64_t>(b.members.size())), DType::float64)
                  .to_vector<double>();
    for (std::size_t j = 0; j < b.members.size(); ++j) {
      if (flags[j] == 0) continue;  // no rank has a gradient: it stays undefined
      Tensor p = parameters_[b.members[j]];
      Tensor slot = reshape(slice(b.flat, 0, b.offsets[j], b.offsets[j] + p.numel()), p.shape());
      if (Tensor g = p.grad(); g.defined())
        copy_(g, slot);
      else
        p.set_grad(contiguous(slot * 1.0));  // a copy: the bucket is overwritten next step
    }
  }
  in_flight_.clear();
}

}  // namespace mttt::nn
