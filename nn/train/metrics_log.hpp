// Metrics as JSON lines: one object per line, written by one write(2) each, so that a run can be
// plotted (`mttt plot`) or resumed while it is going on. A failed write (full disk) is undone —
// the file is cut back to its last whole record — and throws naming the file and the error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mttt::nn {

class MetricsLog {
 public:
  // Appends to `path` (creating it), or truncates it when `append` is false.
  MetricsLog(const std::string& path, bool append);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Every record of a JSON-lines file. An unterminated last line that does not parse (a writer
// killed mid-record) is skipped with a warning on stderr naming the file and line; any other
// malformed line is an error naming them.
std::vector<nlohmann::json> read_metrics(const std::string& path);

struct MetricsRepair {
  std::int64_t dropped = 0;  // records past the step
  bool truncated_line = false;
};

// Prepares `path` for a run resumed at `step`: drops the records logged past it (the resumed run
// logs those steps again) and a truncated last line, rewriting the file atomically. A missing
// file is left missing.
MetricsRepair repair_metrics(const std::string& path, std::int64_t step);

}  // namespace mttt::nn
