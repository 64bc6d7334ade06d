#include "nn/distributed/gradient_buckets.hpp"

#include <memory>

namespace mttt::nn {

GradientBuckets::GradientBuckets(std::vector<Tensor> parameters, std::size_t bucket_bytes)
    : parameters_(std::move(parameters)) {
  check(bucket_bytes > 0, "GradientBuckets", "bucket_bytes must be positive");
  Bucket current;
  std::int64_t current_bytes = 0;
  auto close = [&] {
    if (current.members.empty()) return;
    const Tensor& first = parameters_[current.members.front()];
    current.flat = Tensor::empty({current_bytes / static_cast<std::int64_t>(itemsize(first.dtype()))}, first.dtype(),
                                 first.device());
    buckets_.push_back(std::move(current));
    current = Bucket();
    current_bytes = 0;
  };
  for (std::size_t k = parameters_.size(); k-- > 0;) {
    const Tensor& p = parameters_[k];
    check(p.defined(), "GradientBuckets", "parameter {} is undefined", k);
    const auto bytes = p.numel() * static_cast<std::int64_t>(itemsize(p.dtype()));
    if (!current.members.empty()) {
      const Tensor& first = parameters_[current.members.front()];
      if (first.dtype() != p.dtype() || first.device() != p.device() ||
          current_bytes + bytes > static_cast<std::int64_t>(bucket_bytes))
        close();
    }
    current.offsets.push_back(current_bytes / static_cast<std::int64_t>(itemsize(p.dtype())));
    current.members.push_back(k);
    current_bytes += bytes;
  }
  close();
}

std::int64_t GradientBuckets::bytes_per_step() const {
  std::int64_t bytes = 0;
  for (const Bucket& b : buckets_) bytes += b.flat.numel() * static_cast<std::int64_t>(itemsize(b.flat.dtype()));
  return bytes;
}

void GradientBuckets::average(distributed::Communicator& comm) {
  if (comm.size() == 1) return;
  NoGrad no_grad;
  // Which parameters have a gradient on some rank: one small collective before the buckets.
  const auto n = static_cast<std::int64_t>(parameters_.size());
  std::vector<double> present(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) present[static_cast<std::size_t>(k)] = parameters_[static_cast<std::size_t>(k)].grad().defined();
  Tensor anywhere = from_vector(present, {n}, {DType::float64});
  comm.all_reduce(anywhere);
  const std::vector<double> ranks_with_grad = anywhere.to_vector<double>();

  std::vector<std::unique_ptr<distributed::Work>> in_flight;
  for (Bucket& b : buckets_) {
    for (std::size_t j = 0; j < b.members.size(); ++j) {
      const Tensor& p = parameters_[b.members[j]];
      Tensor slot = reshape(slice(b.flat, 0, b.offsets[j], b.offsets[j] + p.numel()), p.shape());
      const Tensor g = p.grad();
      if (g.defined())
        copy_(slot, g);
      else
        fill_(slot, 0);
    }
    in_flight.push_back(comm.all_reduce_async(b.flat, distributed::Reduction::average));
  }
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    in_flight[i]->wait();
    Bucket& b = buckets_[i];
    for (std::size_t j = 0; j < b.members.size(); ++j) {
      Tensor p = parameters_[b.members[j]];
      if (ranks_with_grad[b.members[j]] == 0) continue;  // no rank used it: it stays without a gradient
      Tensor slot = reshape(slice(b.flat, 0, b.offsets[j], b.offsets[j] + p.numel()), p.shape());
      Tensor g = p.grad();
      if (g.defined())
        copy_(g, slot);
      else
        p.set_grad(contiguous(slot * 1.0));  // a copy: the bucket is overwritten next step
    }
  }
}

}  // namespace mttt::nn
