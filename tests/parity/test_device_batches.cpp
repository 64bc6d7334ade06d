// Batches copied to the device one step ahead (nn/data/device_batches.hpp) and the events that
// order the copy stream and the stream that takes a batch (tensor/stream.hpp): the batches are
// the source's, moved; batch k + 1's bytes cross as batch k is handed out, without a host
// synchronisation; its memory comes from the copy stream; seek() and the end of a finite stream;
// the CPU passes batches through. The device is thrust-host unless MTTT_PARITY_DEVICE names another.
#include <catch2/catch.hpp>

#include "nn/data/device_batches.hpp"
#include "tensor/graph.hpp"
#include "tests/parity/parity_check.hpp"

using namespace mttt;
using namespace mttt::nn::data;
using parity::kThrust;

namespace {

// Batches of 3 rows of 2x2x1 images whose values and labels are a function of the step; a
// finite stream ends after `steps`, its last batch with one row.
class StepSource final : public Dataset {
 public:
  explicit StepSource(std::int64_t steps = -1) : steps_(steps) {}
  std::int64_t num_examples() const override { return 30; }
  std::int64_t num_classes() const override { return 4; }
  ImageShape image_shape() const override { return {2, 2, 1}; }
  std::int64_t batch_size() const override { return 3; }
  bool next(Batch& batch) override {
    if (steps_ >= 0 && step_ >= steps_) return false;
    const std::int64_t rows = steps_ >= 0 && step_ + 1 == steps_ ? 1 : 3;
    std::vector<float> pixels(static_cast<std::size_t>(rows * 4));
    std::vector<std::int64_t> labels(static_cast<std::size_t>(rows));
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(step_) + 0.01f * static_cast<float>(i);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = (step_ + static_cast<std::int64_t>(i)) % 4;
    batch.images = from_vector(pixels, Shape{rows, 2, 2, 1});
    batch.labels = from_vector(labels, Shape{rows});
    batch.indices.assign(static_cast<std::size_t>(rows), step_);
    batch.step = step_;
    EpochStats stats;
    stats.epoch = step_;
    stats.examples = rows;
    stats_.push_back(stats);
    ++step_;
    return true;
  }
  void seek(std::int64_t step) override {
    step_ = step;
    stats_.clear();
  }
  std::vector<EpochStats> stats() const override { return stats_; }
  std::int64_t taken() const { return step_; }

 private:
  std::int64_t steps_, step_ = 0;
  std::vector<EpochStats> stats_;
};

const std::int64_t kBatchBytes = 3 * 4 * 4 + 3 * 8;  // float32 pixels and int64 labels

void check_batch(const Batch& batch, std::int64_t step, Device device) {
  INFO("step " << step);
  CHECK(batch.step == step);
  REQUIRE(batch.images.device() == device);
  REQUIRE(batch.labels.device() == device);
  CHECK(to(batch.images, kCPU).to_vector<float>()[1] == static_cast<float>(step) + 0.01f);
  CHECK(to(batch.labels, kCPU).to_vector<std::int64_t>()[0] == step % 4);
}

}  // namespace

TEST_CASE("device batches: the source's batches on the device, the next one copied as one is handed out") {
  StepSource source;
  DeviceBatches batches(source, kThrust);
  CHECK(batches.batch_size() == 3);
  CHECK(batches.device() == kThrust);
  Batch batch;
  LaunchStats before = launch_stats(kThrust);
  REQUIRE(batches.next(batch));
  LaunchStats copied = launch_stats(kThrust) - before;
  CHECK(copied.bytes_to_device == 2 * kBatchBytes);  // the first batch, and the second ahead of it
  CHECK(copied.host_syncs == 0);
  CHECK(source.taken() == 2);
  CHECK(batch.step == 0);
  // Statistics count the batches handed out, not the one copied ahead.
  CHECK(batches.stats().size() == 1);
  for (std::int64_t step = 1; step < 5; ++step) {
    before = launch_stats(kThrust);
    REQUIRE(batches.next(batch));
    copied = launch_stats(kThrust) - before;
    CHECK(copied.bytes_to_device == kBatchBytes);  // batch step + 1's, queued now
    CHECK(copied.host_syncs == 0);
    CHECK(copied.driver_allocations == 0);
    CHECK(source.taken() == step + 2);
    CHECK(batches.stats().size() == static_cast<std::size_t>(step + 1));
    check_batch(batch, step, kThrust);
  }

  // seek() drops the batch copied ahead and starts from the step asked for.
  batches.seek(2);
  CHECK(batches.stats().empty());
  REQUIRE(batches.next(batch));
  check_batch(batch, 2, kThrust);
  REQUIRE(batches.next(batch));
  check_batch(batch, 3, kThrust);
}

TEST_CASE("device batches: a batch's memory is the copy stream's, held for the stream that took it") {
  if (kThrust.type == DeviceType::cpu) return;
  StepSource source;
  DeviceBatches batches(source, kThrust);
  void* freed = nullptr;
  {
    Batch batch;
    REQUIRE(batches.next(batch));
    freed = batch.images.data_ptr();
  }
  // The default stream, which took the batch, does not get its block: the copy stream does.
  Tensor other = Tensor::empty({3, 2, 2, 1}, DType::float32, kThrust);
  CHECK(other.data_ptr() != freed);
  synchronize(current_stream(kThrust));  // (on a GPU) the taking stream's work on the block is done
  Batch next;
  REQUIRE(batches.next(next));  // copies batch 2 on the copy stream, into the block freed above
  bool reused = false;
  Batch again;
  for (int i = 0; i < 3 && !reused; ++i) {
    REQUIRE(batches.next(again));
    reused = again.images.data_ptr() == freed;
  }
  CHECK(reused);
}

TEST_CASE("device batches: a finite stream ends, and starts again after seek(0)") {
  StepSource source(3);
  DeviceBatches batches(source, kThrust);
  for (int pass = 0; pass < 2; ++pass) {
    batches.seek(0);
    Batch batch;
    std::vector<std::int64_t> rows;
    while (batches.next(batch)) {
      check_batch(batch, static_cast<std::int64_t>(rows.size()), kThrust);
      rows.push_back(batch.size());
    }
    CHECK(rows == std::vector<std::int64_t>{3, 3, 1});
    CHECK(batches.stats().size() == 3);
    CHECK_FALSE(batches.next(batch));
  }
}

TEST_CASE("device batches: on the cpu the source's batches pass through") {
  StepSource source;
  DeviceBatches batches(source, kCPU);
  Batch batch;
  REQUIRE(batches.next(batch));
  CHECK(source.taken() == 1);  // nothing is taken ahead
  check_batch(batch, 0, kCPU);
}

TEST_CASE("events: recorded on one stream, waited for on another; refused where they cannot be") {
  const Stream side = new_stream(kThrust);
  Event none;
  CHECK_FALSE(none.recorded());
  REQUIRE_THROWS_WITH(none.wait(side), Catch::Contains("Event::wait") && Catch::Contains("never recorded"));
  Tensor x = parity::on(from_vector(std::vector<float>{1, 2, 3}, Shape{3}));
  Event done;
  {
    StreamGuard on_side(side);
    x = x * 2.0;
    done = Event::record(side);
  }
  REQUIRE(done.recorded());
  const LaunchStats before = launch_stats(kThrust);
  done.wait(current_stream(kThrust));
  CHECK((launch_stats(kThrust) - before).host_syncs == 0);  // the stream waits, not the host
  CHECK(to(x, kCPU).to_vector<float>() == std::vector<float>{2, 4, 6});
  synchronize(side);
  CHECK(done.completed());
  Event moved = std::move(done);
  CHECK(moved.recorded());
  CHECK_FALSE(done.recorded());  // NOLINT(bugprone-use-after-move): a moved-from event is empty
  REQUIRE_THROWS_WITH(moved.wait(default_stream(kCPU)), Catch::Contains("Event::wait") && Catch::Contains("cpu"));
  if (kThrust.type != DeviceType::cpu) {
    // A capture records one stream's work: events are refused inside it.
    REQUIRE_THROWS_WITH(capture(kThrust, [&] { moved.wait(current_stream(kThrust)); }),
                        Catch::Contains("Event::wait") && Catch::Contains("capture"));
    REQUIRE_THROWS_WITH(capture(kThrust, [&] { (void)Event::record(current_stream(kThrust)); }),
                        Catch::Contains("Event::record") && Catch::Contains("capture"));
  }
  // The CPU's events are complete at once.
  Event cpu = Event::record(default_stream(kCPU));
  CHECK(cpu.completed());
  cpu.wait(default_stream(kCPU));
}
