// Batches on a device, copied one step ahead. DeviceBatches wraps a Dataset whose batches are
// host tensors (the pipeline's) and hands them out already on a device: as it hands out batch k
// it queues the copy of batch k + 1 on a copy stream of the device, so that on a GPU the copy runs
// beside the step that trains on batch k. The stream that takes a batch waits for its copy's
// event, not the host (tensor/stream.hpp); the host's share is copying the bytes into pinned
// staging memory, from which the copy engine takes them (docs/backends.md, "Transfers").
//
// On the CPU the batches pass through as they are. Values never change: a batch is the source's,
// moved.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/data/dataset.hpp"
#include "tensor/stream.hpp"

namespace mttt::nn::data {

class DeviceBatches final : public Dataset {
 public:
  // `source` must outlive this.
  DeviceBatches(Dataset& source, Device device);

  std::int64_t num_examples() const override { return source_.num_examples(); }
  std::int64_t num_classes() const override { return source_.num_classes(); }
  ImageShape image_shape() const override { return source_.image_shape(); }
  std::int64_t batch_size() const override { return source_.batch_size(); }
  // The next batch on the device, ready for work queued on the calling thread's current stream.
  bool next(Batch& batch) override;
  void seek(std::int64_t step) override;
  // Of the batches handed out (the one copied ahead is not counted until it is).
  std::vector<EpochStats> stats() const override;

  Device device() const { return device_; }

 private:
  bool stage();

  Dataset& source_;
  Device device_;
  bool ahead_;  // false on the CPU: nothing to copy
  Stream copy_stream_;
  bool primed_ = false, has_staged_ = false;
  Batch staged_;
  Event copied_;
  std::vector<EpochStats> stats_;
};

}  // namespace mttt::nn::data
