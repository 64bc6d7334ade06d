// The data pipeline: decode and augment on TBB, batches out in order, a bounded prefetch.
//
// The stream (tf.data's repeat -> shuffle per epoch -> batch, made stateless): position p of the
// global stream is example perm_e[p mod n] of epoch e = p div n, where perm_e is a Fisher-Yates
// shuffle drawn from (seed, e) (the identity without shuffling). Step s of shard i holds positions
// s G + i B .. s G + i B + B - 1, with B the batch size per shard and G = B x shard count, so the
// shards partition every global batch, and batches run across epoch boundaries as in big_vision.
// Each example's augmentation draws from (seed, its epoch, its index) and mixup from
// (seed, step), each row mixed with the row before it in the global batch (the first with the
// last): a batch is a pure function of (seed, step, shard), whatever the thread count, the
// shards' batches are the rows of the global batch, and seek(step) resumes a run exactly.
//
// A finite stream (repeat = false, for evaluation) makes one pass: steps of G positions, the
// last one partial (rows of a shard may be fewer than B, or none).
//
// Memory: at most threads + 1 batches are being built and `prefetch` wait finished, plus the one
// the trainer holds.
//
// A corrupt example is skipped with a warning on stderr and counted in stats(). To keep batches
// full, a training stream fills its row with the next valid example of the same batch (so the
// batch stays a function of its step); a finite stream drops the row.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nn/data/dataset.hpp"
#include "nn/data/preprocess.hpp"

namespace mttt::nn::data {

struct PipelineOptions {
  std::int64_t batch_size = 128;  // rows per batch on this shard
  std::uint64_t seed = 0;
  bool shuffle = true;
  bool repeat = true;             // an endless stream of full batches; false: one pass
  PreprocessOptions preprocess;   // none by default: images as stored
  double mixup = 0;               // Beta(mixup, mixup) per batch, soft labels; 0: off
  int threads = 0;                // decode and augment threads; 0: all cores
  int prefetch = 2;               // finished batches kept ready ahead of next()
  int shard_index = 0, shard_count = 1;
};

class Pipeline : public Dataset {
 public:
  Pipeline(std::shared_ptr<const ExampleSource> source, PipelineOptions options);
  ~Pipeline() override;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  std::int64_t num_examples() const override { return source_->size(); }
  std::int64_t num_classes() const override { return source_->num_classes(); }
  ImageShape image_shape() const override { return shape_; }
  std::int64_t batch_size() const override { return options_.batch_size; }
  bool next(Batch& batch) override;
  void seek(std::int64_t step) override;
  // Per epoch, for the batches next() delivered since construction or the last seek().
  std::vector<EpochStats> stats() const override;

  // The batch at `step`, computed now on the calling thread's arena (no prefetch, no warnings).
  Batch batch_at(std::int64_t step);
  // Steps of a finite stream; -1 for an endless one.
  std::int64_t num_steps() const;
  // Epochs of data that `steps` steps consume (fractional).
  double epochs_at(std::int64_t steps) const;
  // The dataset indices of the rows of `step` (before corrupt examples are replaced).
  std::vector<std::int64_t> indices_at(std::int64_t step);
  const PipelineOptions& options() const { return options_; }
  const ExampleSource& source() const { return *source_; }

 private:
  struct Job {
    std::int64_t step = 0;
    std::vector<std::int64_t> indices, epochs;  // per row
    // Mixup on a shard: the example before the shard's first row in the global batch (the
    // global batch's last for shard 0), row 0's partner as in the whole batch; -1: none.
    std::int64_t partner_index = -1, partner_epoch = 0;
  };
  struct Skip {
    std::int64_t epoch;
    std::string source, error;
  };
  struct Item {
    Batch batch;
    std::vector<std::int64_t> epochs;  // per row
    std::vector<Skip> skips;
    std::exception_ptr error;
    bool end = false;
  };
  struct Arena;
  Job make_job(std::int64_t step);
  Item build(const Job& job) const;
  std::shared_ptr<const std::vector<std::int64_t>> permutation(std::int64_t epoch);
  void start();
  void stop();
  void produce(std::int64_t first_step);
  bool push(Item item, bool force);

  std::shared_ptr<const ExampleSource> source_;
  PipelineOptions options_;
  ImageShape shape_;
  std::unique_ptr<Arena> arena_;

  std::mutex permutation_mutex_;
  std::map<std::int64_t, std::shared_ptr<const std::vector<std::int64_t>>> permutations_;

  // Producer -> consumer queue, bounded by options_.prefetch.
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  bool running_ = false;
  bool finished_ = false;
  std::thread producer_;
  std::int64_t next_step_ = 0;
  std::map<std::int64_t, EpochStats> stats_;
  std::int64_t warnings_ = 0;
};

}  // namespace mttt::nn::data
