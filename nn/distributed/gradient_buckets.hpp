// Gradients averaged across the ranks of a data-parallel job, in buckets: the parameters are
// grouped, in the reverse of their order (the order a backward sweep finishes them), into flat
// buffers of about `bucket_bytes` each (one dtype and device per bucket). Each bucket is packed and
// its all_reduce started as soon as its gradients are final: during the backward sweep
// (backward(), through the engine's leaf-ready hook), so that communication overlaps the rest of
// the sweep, or all at once after it (average()). Buckets start in one fixed order on every rank,
// as MPI and NCCL need: bucket i waits for bucket i - 1.
//
// A parameter with no gradient on a rank (it took no part in that rank's loss) counts as zeros
// there; its gradient stays undefined only where no rank has one. A flag per parameter travels at
// the end of its bucket to tell, so no second collective is needed.
#pragma once

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "tensor/distributed/communicator.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

class GradientBuckets {
 public:
  struct Bucket {
    std::vector<std::size_t> members;   // indices into the parameters, in packing order
    std::vector<std::int64_t> offsets;  // each member's first element in `flat`
    std::int64_t flags = 0;             // where the members' presence flags start in `flat`
    Tensor flat;
  };

  GradientBuckets(std::vector<Tensor> parameters, distributed::Communicator& comm,
                  std::size_t bucket_bytes = std::size_t{4} << 20);

  // loss.backward(), the buckets' all_reduces started while the sweep goes on; on return every
  // parameter's gradient is its average over the ranks.
  void backward(const Tensor& loss);
  // Every parameter's gradient (from a backward already run) becomes its average over the ranks.
  void average();

  const std::vector<Bucket>& buckets() const { return buckets_; }
  // What one step reduces: the bytes of every bucket, flags included.
  std::int64_t bytes_per_step() const;
  // Host seconds spent so far starting all_reduces and waiting for them (not the packing): the
  // communication the backward sweep did not hide.
  double communication_seconds() const { return communication_seconds_; }

 private:
  void begin_step();
  void parameter_ready(std::size_t index);
  void launch_ready_buckets(bool flush);
  void finish();

  std::vector<Tensor> parameters_;
  distributed::Communicator& comm_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_;        // parameter -> its bucket
  std::unordered_map<const void*, std::size_t> index_of_node_;
  std::vector<std::size_t> pending_;          // per bucket: members not yet ready this step
  std::size_t next_launch_ = 0;               // buckets start in order
  std::vector<std::unique_ptr<distributed::Work>> in_flight_;
  double communication_seconds_ = 0;
};

}  // namespace mttt::nn
