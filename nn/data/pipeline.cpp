#include "nn/data/pipeline.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "nn/data/augment/mixup.hpp"
#include "tensor/error.hpp"
#include "tensor/ops/transfer.hpp"

namespace mttt::nn::data {

struct Pipeline::Arena {
  explicit Arena(int threads) : arena(threads > 0 ? threads : tbb::task_arena::automatic) { arena.initialize(); }
  tbb::task_arena arena;
};

namespace {
constexpr std::size_t kMaxSkippedSources = 16;
constexpr std::int64_t kMaxWarnings = 100;
constexpr std::size_t kCachedPermutations = 4;
constexpr std::int64_t kProbeExamples = 64;
}  // namespace

Pipeline::Pipeline(std::shared_ptr<const ExampleSource> source, PipelineOptions options)
    : source_(std::move(source)), options_(std::move(options)) {
  const auto& o = options_;
  check(source_ != nullptr, "pipeline", "no example source");
  check(source_->size() > 0, "pipeline", "the example source is empty");
  check(o.batch_size > 0, "pipeline", "batch size {}: must be positive", o.batch_size);
  check(o.shard_count >= 1 && o.shard_index >= 0 && o.shard_index < o.shard_count, "pipeline",
        "shard {} of {}: expected 0 <= index < count", o.shard_index, o.shard_count);
  check(o.prefetch >= 1, "pipeline", "prefetch {}: must be at least 1", o.prefetch);
  check(o.threads >= 0, "pipeline", "threads {}: must be >= 0 (0: all cores)", o.threads);
  check(o.mixup >= 0, "pipeline", "mixup concentration {}: must be >= 0 (0: off)", o.mixup);
  arena_ = std::make_unique<Arena>(o.threads);

  // The row shape: fixed by a crop, else that of the first decodable example.
  const ImageShape fixed = preprocessed_shape(o.preprocess, 0);
  std::string first_error;
  for (std::int64_t i = 0; i < std::min(source_->size(), kProbeExamples); ++i) {
    Image image;
    std::string error;
    if (!source_->load(i, image, error)) {
      if (first_error.empty()) first_error = source_->describe(i) + ": " + error;
      continue;
    }
    if (fixed.height > 0) {
      shape_ = {fixed.height, fixed.width, image.channels};
    } else {
      RandomStream rng(o.seed, Purpose::augment, 0, static_cast<std::uint64_t>(i));
      const Image p = preprocess(std::move(image), o.preprocess, rng);
      shape_ = {p.height, p.width, p.channels};
    }
    break;
  }
  check(shape_.channels > 0, "pipeline", "none of the first {} examples could be decoded ({})",
        std::min(source_->size(), kProbeExamples), first_error);
}

Pipeline::~Pipeline() { stop(); }

std::int64_t Pipeline::num_steps() const {
  if (options_.repeat) return -1;
  const std::int64_t global = options_.batch_size * options_.shard_count;
  return (source_->size() + global - 1) / global;
}

double Pipeline::epochs_at(std::int64_t steps) const {
  return static_cast<double>(steps) * static_cast<double>(options_.batch_size * options_.shard_count) /
         static_cast<double>(source_->size());
}

std::shared_ptr<const std::vector<std::int64_t>> Pipeline::permutation(std::int64_t epoch) {
  std::lock_guard lock(permutation_mutex_);
  if (auto it = permutations_.find(epoch); it != permutations_.end()) return it->second;
  const std::int64_t n = source_->size();
  auto perm = std::make_shared<std::vector<std::int64_t>>(static_cast<std::size_t>(n));
  std::iota(perm->begin(), perm->end(), std::int64_t{0});
  RandomStream rng(options_.seed, Purpose::shuffle, static_cast<std::uint64_t>(epoch), 0);
  for (std::int64_t i = n - 1; i > 0; --i)
    std::swap((*perm)[static_cast<std::size_t>(i)], (*perm)[rng.below(static_cast<std::uint32_t>(i + 1))]);
  if (permutations_.size() >= kCachedPermutations) permutations_.erase(permutations_.begin());
  permutations_[epoch] = perm;
  return perm;
}

Pipeline::Job Pipeline::make_job(std::int64_t step) {
  check(step >= 0, "pipeline", "step {}: must be >= 0", step);
  const auto& o = options_;
  const std::int64_t n = source_->size();
  const std::int64_t first = step * o.batch_size * o.shard_count + o.shard_index * o.batch_size;
  Job job;
  job.step = step;
  std::shared_ptr<const std::vector<std::int64_t>> perm;
  for (std::int64_t j = 0; j < o.batch_size; ++j) {
    const std::int64_t p = first + j;
    if (!o.repeat && p >= n) break;
    const std::int64_t epoch = p / n, k = p % n;
    if (o.shuffle && (!perm || job.epochs.back() != epoch)) perm = permutation(epoch);
    job.indices.push_back(o.shuffle ? (*perm)[static_cast<std::size_t>(k)] : k);
    job.epochs.push_back(epoch);
  }
  if (o.mixup > 0 && o.repeat && o.shard_count > 1) {
    const std::int64_t global = o.batch_size * o.shard_count;
    const std::int64_t p = o.shard_index == 0 ? step * global + global - 1 : first - 1;
    job.partner_epoch = p / n;
    job.partner_index = o.shuffle ? (*permutation(job.partner_epoch))[static_cast<std::size_t>(p % n)] : p % n;
  }
  return job;
}

std::vector<std::int64_t> Pipeline::indices_at(std::int64_t step) { return make_job(step).indices; }

Pipeline::Item Pipeline::build(const Job& job) const {
  const auto& o = options_;
  const auto rows = static_cast<std::int64_t>(job.indices.size());
  const std::int64_t row_size = std::int64_t{shape_.height} * shape_.width * shape_.channels;
  // The batch is built in host memory, corrupt rows replaced or dropped and mixup applied there,
  // then handed to a tensor once.
  std::vector<float> pixels(static_cast<std::size_t>(rows * row_size));
  float* out = pixels.data();
  std::vector<std::string> errors(static_cast<std::size_t>(rows));
  std::vector<char> ok(static_cast<std::size_t>(rows), 0);

  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, rows), [&](const tbb::blocked_range<std::int64_t>& range) {
    for (std::int64_t j = range.begin(); j < range.end(); ++j) {
      const auto r = static_cast<std::size_t>(j);
      const std::int64_t index = job.indices[r];
      Image image;
      if (!source_->load(index, image, errors[r])) continue;
      RandomStream rng(o.seed, Purpose::augment, static_cast<std::uint64_t>(job.epochs[r]),
                       static_cast<std::uint64_t>(index));
      image = preprocess(std::move(image), o.preprocess, rng);
      check(image.height == shape_.height && image.width == shape_.width && image.channels == shape_.channels,
            "pipeline", "{}: preprocessed to {}x{}x{}, but batches hold {}x{}x{} (a crop fixes the size)",
            source_->describe(index), image.height, image.width, image.channels, shape_.height, shape_.width,
            shape_.channels);
      to_unit_range(image, out + j * row_size);
      ok[r] = 1;
    }
  });

  Item item;
  std::vector<std::int64_t> indices = job.indices, epochs = job.epochs;
  std::vector<std::int64_t> keep;  // rows of a finite stream that survive
  for (std::int64_t j = 0; j < rows; ++j) {
    const auto r = static_cast<std::size_t>(j);
    if (ok[r]) {
      keep.push_back(j);
      continue;
    }
    item.skips.push_back({job.epochs[r], source_->describe(job.indices[r]), errors[r]});
    if (!o.repeat) continue;
    // The next valid row of the batch, cyclically, takes the corrupt row's place.
    std::int64_t k = (j + 1) % rows;
    while (k != j && !ok[static_cast<std::size_t>(k)]) k = (k + 1) % rows;
    if (k == j) fail("pipeline", "step {}: every example of the batch is corrupt (first: {}: {})", job.step,
                     item.skips.front().source, item.skips.front().error);
    std::memcpy(out + j * row_size, out + k * row_size, static_cast<std::size_t>(row_size) * sizeof(float));
    indices[r] = job.indices[static_cast<std::size_t>(k)];
  }
  if (!o.repeat && static_cast<std::int64_t>(keep.size()) < rows) {
    const auto kept = static_cast<std::int64_t>(keep.size());
    std::vector<std::int64_t> kept_indices, kept_epochs;
    for (std::int64_t i = 0; i < kept; ++i) {  // kept rows move forward in place (j >= i)
      const auto j = keep[static_cast<std::size_t>(i)];
      if (j != i)
        std::memcpy(out + i * row_size, out + j * row_size, static_cast<std::size_t>(row_size) * sizeof(float));
      kept_indices.push_back(indices[static_cast<std::size_t>(j)]);
      kept_epochs.push_back(epochs[static_cast<std::size_t>(j)]);
    }
    indices = std::move(kept_indices);
    epochs = std::move(kept_epochs);
  }

  const auto count = static_cast<std::int64_t>(indices.size());
  std::vector<std::int64_t> labels(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) labels[i] = source_->label(indices[i]);
  Batch& batch = item.batch;
  batch.step = job.step;
  if (o.mixup > 0 && count > 0) {
    RandomStream rng(o.seed, Purpose::mixup, 0, static_cast<std::uint64_t>(job.step));
    batch.mixup_weight = sample_mixup_weight(o.mixup, rng);
    // A shard's row 0 is mixed with the row before it in the global batch, decoded here too (a
    // corrupt one leaves the shard's own last row in its place).
    std::vector<float> partner;
    std::int64_t partner_label = -1;
    if (job.partner_index >= 0) {
      Image image;
      std::string error;
      if (source_->load(job.partner_index, image, error)) {
        RandomStream augment(o.seed, Purpose::augment, static_cast<std::uint64_t>(job.partner_epoch),
                             static_cast<std::uint64_t>(job.partner_index));
        image = preprocess(std::move(image), o.preprocess, augment);
        if (image.height == shape_.height && image.width == shape_.width && image.channels == shape_.channels) {
          partner.resize(static_cast<std::size_t>(row_size));
          to_unit_range(image, partner.data());
          partner_label = source_->label(job.partner_index);
        }
      }
    }
    mixup_rows(out, count, row_size, batch.mixup_weight, partner.empty() ? nullptr : partner.data());
    batch.labels = from_vector(mixup_labels(labels, source_->num_classes(), batch.mixup_weight, partner_label),
                               {count, source_->num_classes()});
  } else if (count > 0) {
    batch.labels = from_vector(labels, {count});
  } else {
    batch.labels = Tensor::empty({0}, DType::int64);  // the last batch of a shard may be empty
  }
  batch.images = from_host(out, {count, shape_.height, shape_.width, shape_.channels}, {DType::float32});
  batch.indices = std::move(indices);
  item.epochs = std::move(epochs);
  return item;
}

Batch Pipeline::batch_at(std::int64_t step) {
  check(options_.repeat || step < num_steps(), "pipeline", "step {} is past the end of a {}-step stream", step,
        num_steps());
  const Job job = make_job(step);
  Item item;
  arena_->arena.execute([&] { item = build(job); });
  return std::move(item.batch);
}

bool Pipeline::push(Item item, bool force) {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return stopping_ || force || queue_.size() < static_cast<std::size_t>(options_.prefetch); });
  if (stopping_) return false;
  queue_.push_back(std::move(item));
  cv_.notify_all();
  return true;
}

void Pipeline::produce(std::int64_t first_step) {
  try {
    arena_->arena.execute([&] {
      std::int64_t step = first_step;
      const std::int64_t last = num_steps();
      const auto tokens = static_cast<std::size_t>(std::max(2, arena_->arena.max_concurrency() + 1));
      auto stopping = [&] {
        std::lock_guard lock(mutex_);
        return stopping_;
      };
      tbb::parallel_pipeline(
          tokens,
          tbb::make_filter<void, Job>(tbb::filter_mode::serial_in_order,
                                      [&](tbb::flow_control& fc) -> Job {
                                        if (stopping() || (last >= 0 && step >= last)) {
                                          fc.stop();
                                          return {};
                                        }
                                        return make_job(step++);
                                      }) &
              tbb::make_filter<Job, Item>(tbb::filter_mode::parallel, [&](const Job& job) { return build(job); }) &
              tbb::make_filter<Item, void>(tbb::filter_mode::serial_in_order,
                                           [&](Item item) { push(std::move(item), false); }));
    });
    Item end;
    end.end = true;
    push(std::move(end), true);
  } catch (...) {
    Item failure;
    failure.error = std::current_exception();
    push(std::move(failure), true);
  }
}

void Pipeline::start() {
  stop();
  running_ = true;
  producer_ = std::thread(&Pipeline::produce, this, next_step_);
}

void Pipeline::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (producer_.joinable()) producer_.join();
  std::lock_guard lock(mutex_);
  queue_.clear();
  stopping_ = false;
  running_ = false;
}

bool Pipeline::next(Batch& batch) {
  if (finished_) return false;
  if (!running_) start();
  Item item;
  {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !queue_.empty(); });
    item = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
  }
  if (item.error || item.end) {
    stop();
    finished_ = true;
    if (item.error) std::rethrow_exception(item.error);
    return false;
  }
  {
    std::lock_guard lock(mutex_);
    for (auto epoch : item.epochs) {
      auto& s = stats_[epoch];
      s.epoch = epoch;
      ++s.examples;
    }
    for (const auto& skip : item.skips) {
      auto& s = stats_[skip.epoch];
      s.epoch = skip.epoch;
      ++s.skipped;
      if (s.skipped_sources.size() < kMaxSkippedSources) s.skipped_sources.push_back(skip.source);
      if (warnings_ < kMaxWarnings)
        fmt::print(stderr, "[data] warning: {}: {}; skipped (step {}, epoch {})\n", skip.source, skip.error,
                   item.batch.step, skip.epoch);
      else if (warnings_ == kMaxWarnings)
        fmt::print(stderr, "[data] warning: further corrupt examples are counted in the statistics only\n");
      ++warnings_;
    }
  }
  next_step_ = item.batch.step + 1;
  batch = std::move(item.batch);
  return true;
}

void Pipeline::seek(std::int64_t step) {
  check(step >= 0, "pipeline", "cannot seek to step {}", step);
  stop();
  next_step_ = step;
  finished_ = !options_.repeat && step >= num_steps();
  std::lock_guard lock(mutex_);
  stats_.clear();
  warnings_ = 0;
}

std::vector<EpochStats> Pipeline::stats() const {
  std::lock_guard lock(mutex_);
  std::vector<EpochStats> out;
  for (const auto& [epoch, s] : stats_) out.push_back(s);
  return out;
}

}  // namespace mttt::nn::data
