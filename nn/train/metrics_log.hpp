// Metrics as JSON lines: one object per line, flushed as written, so that a run can be plotted
// (`mttt plot`) or resumed while it is going on.
#pragma once

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace mttt::nn {

class MetricsLog {
 public:
  // Appends to `path` (creating it), or truncates it when `append` is false.
  MetricsLog(const std::string& path, bool append);
  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// Every record of a JSON-lines file; a malformed line is an error naming the file and line.
std::vector<nlohmann::json> read_metrics(const std::string& path);

}  // namespace mttt::nn
