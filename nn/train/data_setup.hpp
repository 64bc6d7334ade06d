// The training and evaluation streams of a run, from its data config: the source
// (Fashion-MNIST or an ImageNet-style folder), an optional fixed subset, and the preprocessing
// the config names, checked against the model's input size.
#pragma once

#include <memory>

#include "nn/data/pipeline.hpp"
#include "nn/train/train_config.hpp"

namespace mttt::nn {

struct Datasets {
  std::unique_ptr<data::Pipeline> train;  // endless, shuffled per epoch, augmented
  std::unique_ptr<data::Pipeline> eval;   // one pass in order
  std::int64_t classes = 0;
};

// `train` false: only the evaluation stream (mttt eval). Rank `rank` of `ranks` (data-parallel
// training, nn/train/data_parallel.hpp) takes its shard of every global batch of both streams.
Datasets make_datasets(const TrainConfig& config, bool train = true, int rank = 0, int ranks = 1);

// The first `count` examples of `source` in an order fixed by `seed` (all of them if count <= 0
// or count >= size).
std::shared_ptr<const data::ExampleSource> subset(std::shared_ptr<const data::ExampleSource> source, std::int64_t count,
                                                  std::uint64_t seed);

}  // namespace mttt::nn
