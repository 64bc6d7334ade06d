// A block of memory on a device, shared by a tensor and its views: allocated by the device's
// backend, or adopted from another library (a DLPack producer: NumPy, PyTorch), whose release
// function runs when the last view goes instead of a return to the backend's allocator.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "tensor/device.hpp"

namespace mttt {

class Backend;

class Storage {
 public:
  // Allocates `bytes` from the device's backend (uninitialised).
  Storage(std::size_t bytes, Device device);
  // Adopts `bytes` at `data` on `device`, owned elsewhere: `release` gives them back.
  Storage(void* data, std::size_t bytes, Device device, std::function<void()> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  Backend& backend() const { return *backend_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  Device device_;
  Backend* backend_ = nullptr;
  std::function<void()> release_;  // set for adopted memory
};

}  // namespace mttt
