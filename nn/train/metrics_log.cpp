#include "nn/train/metrics_log.hpp"

#include <vector>

#include "tensor/error.hpp"

namespace mttt::nn {

MetricsLog::MetricsLog(const std::string& path, bool append)
    : path_(path), out_(path, append ? std::ios::app : std::ios::trunc) {
  check(out_.good(), "metrics", "cannot write {}", path);
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::ifstream in(path);
  check(in.good(), "metrics", "cannot open {}", path);
  std::vector<nlohmann::json> records;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    try {
      records.push_back(nlohmann::json::parse(line));
    } catch (const std::exception& e) {
      fail("metrics", "{}:{}: not a JSON object ({})", path, number, e.what());
    }
  }
  return records;
}

}  // namespace mttt::nn
