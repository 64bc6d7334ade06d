#include "tensor/stream.hpp"

#include <utility>
#include <vector>

#include "tensor/backend/backend.hpp"

namespace mttt {

namespace {

// The current streams of this thread that are not their device's default.
thread_local std::vector<Stream> current_streams;

void set_current(Stream stream) {
  for (auto it = current_streams.begin(); it != current_streams.end(); ++it)
    if (it->device == stream.device) {
      if (stream.id == 0)
        current_streams.erase(it);
      else
        it->id = stream.id;
      return;
    }
  if (stream.id != 0) current_streams.push_back(stream);
}

}  // namespace

Stream default_stream(Device device) { return {device, 0}; }

Stream current_stream(Device device) {
  for (const Stream& s : current_streams)
    if (s.device == device) return s;
  return {device, 0};
}

Stream new_stream(Device device) { return {device, backend(device).create_stream()}; }

void synchronize(Stream stream) { backend(stream.device).synchronize(stream.id); }

void record_stream(const Tensor& t, Stream stream) {
  check(t.defined(), "record_stream", "undefined tensor");
  check(t.device() == stream.device, "record_stream", "the tensor is on {} but the stream on {}", to_string(t.device()),
        to_string(stream.device));
  backend_of(t).record_stream(t.storage()->data(), stream.id);
}

Event Event::record(Stream stream) {
  Event event;
  event.device_ = stream.device;
  event.handle_ = backend(stream.device).record_event(stream.id);
  event.recorded_ = true;
  return event;
}

Event::~Event() { release(); }

Event::Event(Event&& other) noexcept
    : device_(other.device_), handle_(std::exchange(other.handle_, 0)), recorded_(std::exchange(other.recorded_, false)) {}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    release();
    device_ = other.device_;
    handle_ = std::exchange(other.handle_, 0);
    recorded_ = std::exchange(other.recorded_, false);
  }
  return *this;
}

void Event::release() {
  if (!recorded_) return;
  recorded_ = false;
  try {
    backend(device_).release_event(handle_);
  } catch (...) {  // a destructor must not throw; the driver fails only as the process ends
  }
}

void Event::wait(Stream stream) const {
  check(recorded_, "Event::wait", "the event was never recorded");
  check(stream.device == device_, "Event::wait", "the event is on {} but the stream on {}", to_string(device_),
        to_string(stream.device));
  backend(device_).wait_event(stream.id, handle_);
}

bool Event::completed() const {
  check(recorded_, "Event::completed", "the event was never recorded");
  return backend(device_).event_completed(handle_);
}

StreamGuard::StreamGuard(Stream stream) : previous_(current_stream(stream.device)) { set_current(stream); }

StreamGuard::~StreamGuard() { set_current(previous_); }

}  // namespace mttt
