#include "nn/train/metrics_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "nn/checkpoint/file_write.hpp"
#include "tensor/error.hpp"

namespace mttt::nn {

namespace {

struct Line {
  std::string text;
  int number;
  bool terminated;
};

std::vector<Line> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "metrics", "cannot open {}", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<Line> lines;
  std::size_t begin = 0;
  for (int number = 1; begin < text.size(); ++number) {
    const std::size_t end = text.find('\n', begin);
    const bool terminated = end != std::string::npos;
    lines.push_back({text.substr(begin, (terminated ? end : text.size()) - begin), number, terminated});
    begin = terminated ? end + 1 : text.size();
  }
  return lines;
}

// The line's record, or null for an empty line or a truncated last one; other damage throws.
nlohmann::json parse_line(const Line& line, const std::string& path, bool* truncated) {
  if (line.text.empty()) return nullptr;
  try {
    nlohmann::json record = nlohmann::json::parse(line.text);
    if (!record.is_object()) fail("metrics", "{}:{}: not a JSON object", path, line.number);
    return record;
  } catch (const nlohmann::json::exception& e) {
    if (!line.terminated) {
      *truncated = true;
      return nullptr;
    }
    fail("metrics", "{}:{}: not a JSON object ({})", path, line.number, e.what());
  }
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, bool append) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND | (append ? 0 : O_TRUNC), 0644);
  check(fd_ >= 0, "metrics", "cannot write {}: {}", path, std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::write(const nlohmann::json& record) {
  const std::string line = record.dump() + '\n';
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  try {
    write_all(fd_, line, path_, "metrics");
  } catch (...) {
    // No half record: cut the file back to its last whole line (best effort; the error stands).
    if (before >= 0) (void)!::ftruncate(fd_, before);
    throw;
  }
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::vector<nlohmann::json> records;
  for (const Line& line : read_lines(path)) {
    bool truncated = false;
    nlohmann::json record = parse_line(line, path, &truncated);
    if (truncated)
      fmt::print(stderr, "warning: {}:{}: skipped a truncated last line (a write that did not finish)\n", path,
                 line.number);
    if (!record.is_null()) records.push_back(std::move(record));
  }
  return records;
}

MetricsRepair repair_metrics(const std::string& path, std::int64_t step) {
  MetricsRepair repair;
  if (!std::filesystem::exists(path)) return repair;
  std::string kept;
  for (const Line& line : read_lines(path)) {
    nlohmann::json record = parse_line(line, path, &repair.truncated_line);
    if (record.is_null()) continue;
    if (record.contains("step") && record["step"].is_number() && record["step"].get<std::int64_t>() > step) {
      ++repair.dropped;
      continue;
    }
    kept += line.text;
    kept += '\n';
  }
  if (repair.dropped > 0 || repair.truncated_line) write_file_atomically(path, {kept}, "metrics");
  return repair;
}

}  // namespace mttt::nn
