// A block of memory on a device, shared by a tensor and its views.
#pragma once

#include <cstddef>
#include <memory>

#include "tensor/device.hpp"

namespace mttt {

class Backend;

class Storage {
 public:
  // Allocates `bytes` from the device's backend (uninitialised).
  Storage(std::size_t bytes, Device device);
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
};

}  // namespace mttt
