#include "tensor/stream.hpp"

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

StreamGuard::StreamGuard(Stream stream) : previous_(current_stream(stream.device)) { set_current(stream); }

StreamGuard::~StreamGuard() { set_current(previous_); }

}  // namespace mttt
