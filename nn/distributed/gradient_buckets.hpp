// Gradients averaged across the ranks of a data-parallel job, in buckets: the parameters are
// grouped, in the reverse of their order (the order a backward sweep finishes them), into flat
// buffers of about `bucket_bytes` each (one dtype and device per bucket); a step packs each
// bucket, starts its all_reduce at once (several are in flight together) and unpacks the averages
// into the gradients. Every rank must build its buckets from the same parameters in the same order
// (the trainer checks the model's fingerprint at start).
#pragma once

#include <cstddef>
#include <vector>

#include "tensor/distributed/communicator.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

class GradientBuckets {
 public:
  struct Bucket {
    std::vector<std::size_t> members;  // indices into the parameters, in packing order
    std::vector<std::int64_t> offsets; // each member's first element in `flat`
    Tensor flat;
  };

  explicit GradientBuckets(std::vector<Tensor> parameters, std::size_t bucket_bytes = std::size_t{4} << 20);

  // Every parameter's gradient becomes its average over the ranks of `comm`. A parameter whose
  // gradient is undefined on a rank (it took no part in that rank's loss) counts as zeros there;
  // it stays undefined only where no rank has a gradient. With one rank nothing is touched.
  void average(distributed::Communicator& comm);

  const std::vector<Bucket>& buckets() const { return buckets_; }
  // What one step reduces: the bytes of every bucket.
  std::int64_t bytes_per_step() const;

 private:
  std::vector<Tensor> parameters_;
  std::vector<Bucket> buckets_;
};

}  // namespace mttt::nn
