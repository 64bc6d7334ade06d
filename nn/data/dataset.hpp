// What a trainer sees of the data: a stream of batches (Dataset), and what the pipeline reads
// examples from (ExampleSource).
//
// A batch is NHWC float32 images in [-1, 1] with int64 labels (B), or float32 soft labels
// (B, classes) when mixup is on. Batch `step` of a training stream is a pure function of
// (seed, step, shard), so a run resumed at any step sees exactly the data it would have seen.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/data/image.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn::data {

struct ImageShape {
  int height = 0, width = 0, channels = 0;
  bool operator==(const ImageShape&) const = default;
};

// Random access to the examples of one split. Implementations are safe to call from several
// threads at once.
class ExampleSource {
 public:
  virtual ~ExampleSource() = default;
  virtual std::int64_t size() const = 0;
  virtual std::int64_t num_classes() const = 0;
  virtual std::int64_t label(std::int64_t index) const = 0;
  // Decodes example `index` into `image`; returns false with the reason in `error` when the
  // example is corrupt (the pipeline skips it). Errors that make the whole source unusable throw.
  virtual bool load(std::int64_t index, Image& image, std::string& error) const = 0;
  // Where the example comes from, for warnings: a file, or "file[index]".
  virtual std::string describe(std::int64_t index) const = 0;
  virtual std::vector<std::string> class_names() const { return {}; }
};

struct Batch {
  Tensor images;                      // (B, H, W, C) float32 in [-1, 1]
  Tensor labels;                      // (B) int64, or (B, classes) float32 after mixup
  std::vector<std::int64_t> indices;  // the example behind each row
  std::int64_t step = 0;              // position in the stream
  double mixup_weight = 1;            // weight of the original image (>= 0.5 with mixup)

  std::int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

struct EpochStats {
  std::int64_t epoch = 0;
  std::int64_t examples = 0;                 // delivered in batches (substitutes included)
  std::int64_t skipped = 0;                  // corrupt examples met
  std::vector<std::string> skipped_sources;  // the first few of them
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t num_examples() const = 0;  // in one epoch of the whole split
  virtual std::int64_t num_classes() const = 0;
  virtual ImageShape image_shape() const = 0;     // of each row of a batch
  virtual std::int64_t batch_size() const = 0;    // rows per batch on this shard
  // The next batch; false at the end of a finite stream.
  virtual bool next(Batch& batch) = 0;
  // Restarts the stream so that the next batch is `step`.
  virtual void seek(std::int64_t step) = 0;
  // Statistics of the batches delivered so far, per epoch of the examples in them.
  virtual std::vector<EpochStats> stats() const = 0;
};

}  // namespace mttt::nn::data
