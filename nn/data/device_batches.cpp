#include "nn/data/device_batches.hpp"

#include <map>
#include <mutex>

namespace mttt::nn::data {

namespace {

// One copy stream per device for the whole process: streams live as long as the process, and
// every DeviceBatches (a training stream, each evaluation pass) copies on it.
Stream copy_stream(Device device) {
  static std::mutex mutex;
  static std::map<std::pair<int, int>, Stream> streams;
  std::lock_guard lock(mutex);
  const std::pair<int, int> key{static_cast<int>(device.type), device.index};
  auto it = streams.find(key);
  if (it == streams.end()) it = streams.emplace(key, new_stream(device)).first;
  return it->second;
}

}  // namespace

DeviceBatches::DeviceBatches(Dataset& source, Device device)
    : source_(source),
      device_(device),
      ahead_(device.type != DeviceType::cpu),
      copy_stream_(ahead_ ? copy_stream(device) : default_stream(device)) {}

bool DeviceBatches::stage() {
  Batch batch;
  if (!source_.next(batch)) return false;
  {
    StreamGuard on_copy_stream(copy_stream_);  // the device memory is allocated on it too
    for (Tensor* t : {&batch.images, &batch.labels})
      if (t->defined()) *t = to(*t, device_);
    copied_ = Event::record(copy_stream_);
  }
  staged_ = std::move(batch);
  return true;
}

bool DeviceBatches::next(Batch& batch) {
  if (!ahead_) return source_.next(batch);
  if (!primed_) {
    primed_ = true;
    has_staged_ = stage();
  }
  if (!has_staged_) {
    stats_ = source_.stats();
    return false;
  }
  batch = std::move(staged_);
  staged_ = Batch();
  // The taking stream waits for the copy; the allocator holds the batch's memory, once freed,
  // until that stream's work on it is done (the copy stream would otherwise reuse it at once).
  const Stream taking = current_stream(device_);
  copied_.wait(taking);
  for (const Tensor* t : {&batch.images, &batch.labels})
    if (t->defined() && t->numel() > 0) record_stream(*t, taking);
  stats_ = source_.stats();  // before the source moves on to the batch copied ahead
  has_staged_ = stage();
  return true;
}

void DeviceBatches::seek(std::int64_t step) {
  source_.seek(step);
  staged_ = Batch();
  copied_ = Event();
  primed_ = has_staged_ = false;
  stats_.clear();
}

std::vector<EpochStats> DeviceBatches::stats() const { return ahead_ ? stats_ : source_.stats(); }

}  // namespace mttt::nn::data
