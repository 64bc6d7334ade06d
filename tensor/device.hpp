// Where a tensor's memory lives and which backend computes on it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mttt {

enum class DeviceType : std::uint8_t {
  cpu,          // Eigen, OpenMP and OpenBLAS
  thrust_host,  // the Thrust backend compiled for the host (TBB/OpenMP), to test the CUDA logic
  cuda,         // Thrust and cuBLAS on a GPU
};

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  friend bool operator==(const Device& a, const Device& b) { return a.type == b.type && a.index == b.index; }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }
};

inline constexpr Device kCPU{DeviceType::cpu, 0};

std::string to_string(Device device);
// "cpu", "thrust-host", "cuda", "cuda:1"; throws on anything else.
Device parse_device(std::string_view text);
// Throws, saying how to build one, when this build lacks `device`'s backend (for cuda: also when
// no GPU can be used). Programs call it before any work, to name a bad --device at once.
void require_device(Device device);

}  // namespace mttt
