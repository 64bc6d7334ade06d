// The trainer's data-parallel part (docs/distributed.md): what a rank of an `mpirun -np N mttt
// train` job does differently from a process alone, in the few places the trainer calls it.
//
//   - run.batch_size stays the global batch: each rank takes its share (batch / N rows) of every
//     global batch through the pipeline's shards; a batch the ranks cannot share equally is refused.
//   - At start the ranks compare a fingerprint of the run (the config without the keys that may
//     differ per rank, the model's parameter names and shapes, the data sets' sizes) and refuse,
//     naming the rank that differs; then the parameters (and, on resume, the optimiser's state and
//     step, which rank 0 alone read) are broadcast from rank 0, so the ranks cannot drift.
//   - Each step's gradients are averaged in buckets started from the backward sweep
//     (nn/distributed/gradient_buckets.hpp), before clipping and the optimiser.
//   - Decisions every rank must take alike (a logged loss, a stop signal, a non-finite step) are
//     agreed at the points where the trainer synchronises anyway.
//
// With one rank (no MPI, or mpirun -np 1) every call leaves things as they are: the trainer runs
// bit for bit as a process alone.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "nn/distributed/gradient_buckets.hpp"
#include "nn/train/data_setup.hpp"
#include "nn/train/train_config.hpp"
#include "nn/vit.hpp"
#include "tensor/distributed/communicator.hpp"

namespace mttt::nn {

class Optimizer;

// Rows of each global batch one of `ranks` ranks trains on; refuses, naming run.batch_size (and
// run.accumulation), a batch the ranks (and their micro-batches) cannot share equally.
std::int64_t rank_batch_size(const TrainConfig& config, int ranks);
// Rows of each evaluation batch per rank (the evaluation batch need not divide).
std::int64_t rank_eval_batch_size(const TrainConfig& config, int ranks);
// The config keys that may differ between the ranks of one job (where each rank finds its data,
// how many threads it decodes with, which GPU it runs on).
const std::vector<std::string>& per_rank_config_keys();

// Ranks of a job of `ranks` on this machine (from the launcher; all of them where it does not say).
int ranks_on_this_machine(int ranks);

// Runs `body`; an error on one rank of several ends every rank at once, naming the rank
// (Communicator::abort): the others may be waiting for it in a collective. Alone, it propagates.
template <class Body>
auto end_job_on_error(distributed::Communicator& comm, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    if (comm.size() > 1) comm.abort(fmt::format("mttt: {}", e.what()), 1);
    throw;
  }
}

class DataParallel {
 public:
  // `comm` null: the process alone.
  explicit DataParallel(std::shared_ptr<distributed::Communicator> comm);

  distributed::Communicator& comm() { return *comm_; }
  int rank() const { return comm_->rank(); }
  int size() const { return comm_->size(); }
  bool is_root() const { return comm_->rank() == 0; }

  // Refuses, on every rank and naming the rank that differs, a job whose ranks were given
  // different configs, models or data.
  void require_same_run(const TrainConfig& config, const ViT& model, const Datasets& data);
  // Every rank's parameters become rank 0's.
  void broadcast_parameters(ViT& model);
  // Every rank's optimiser state, step and skipped steps become rank 0's (after rank 0 alone
  // restored a checkpoint).
  void broadcast_training_state(Optimizer& optimizer, std::int64_t& step, std::int64_t& skipped);

  // The device this rank trains on: run.device, except that "cuda" without an index on several
  // ranks of a machine means the GPU of the rank's local index (one rank per GPU).
  Device device(const std::string& run_device) const;
  // The trainable parameters whose gradients backward() averages (after they are on their
  // device). On CUDA devices, where this build has NCCL, gradients travel over NCCL (its id sent
  // over MPI); elsewhere over MPI (CUDA memory staged through the host).
  void attach(const ViT& model);
  // loss.backward(); with `average` (the step's last micro-batch) the gradients are then the
  // averages over the ranks, reduced in buckets while the sweep goes on.
  void backward(const Tensor& loss, bool average);
  // A copy of `t` averaged over the ranks (`t` itself with one rank).
  Tensor average(const Tensor& t);
  // Per-example sums over the ranks (host values; in rank order, the same on every rank).
  std::vector<double> sum(const std::vector<double>& values);
  // The smallest of the ranks' values (host; for the first non-finite step).
  double min(double value);
  // The first stop signal any rank received (0: none).
  int agree_signal(int signal);

  // Bytes one step's gradient averaging sends through all_reduce (0 with one rank) and buckets.
  std::int64_t reduced_bytes_per_step() const { return buckets_ ? buckets_->bytes_per_step() : 0; }
  std::size_t bucket_count() const { return buckets_ ? buckets_->buckets().size() : 0; }
  // Host seconds spent starting and waiting for gradient all_reduces so far.
  double communication_seconds() const { return buckets_ ? buckets_->communication_seconds() : 0; }

 private:
  std::shared_ptr<distributed::Communicator> comm_;
  std::unique_ptr<distributed::Communicator> gradient_comm_;  // NCCL on CUDA devices, if built
  std::unique_ptr<GradientBuckets> buckets_;
};

}  // namespace mttt::nn
