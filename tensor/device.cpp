#include "tensor/device.hpp"

#include <charconv>

#include "tensor/error.hpp"

namespace mttt {

std::string to_string(Device device) {
  switch (device.type) {
    case DeviceType::cpu: return "cpu";
    case DeviceType::thrust_host: return "thrust-host";
    case DeviceType::cuda: return device.index == 0 ? "cuda" : fmt::format("cuda:{}", device.index);
  }
  return "?";
}

Device parse_device(std::string_view text) {
  if (text == "cpu") return kCPU;
  if (text == "thrust-host") return {DeviceType::thrust_host, 0};
  if (text == "cuda") return {DeviceType::cuda, 0};
  if (text.substr(0, 5) == "cuda:") {
    int index = 0;
    auto rest = text.substr(5);
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), index);
    if (ec == std::errc() && end == rest.data() + rest.size() && index >= 0) return {DeviceType::cuda, index};
  }
  fail("device", "unknown device '{}': expected cpu, thrust-host, cuda or cuda:N", text);
}

}  // namespace mttt
