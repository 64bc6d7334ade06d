// A training run's folder (run.out), held for the run's lifetime:
//   - locked: `out/.lock` carries an flock and the holder's pid, so that a second training on the
//     same folder is refused naming the first's pid (the lock dies with its process, kill -9 included);
//   - not taken over by accident: a folder holding a previous run (a non-empty metrics.jsonl, or
//     checkpoint.safetensors) is refused unless the run resumes or overwrite is asked for;
//   - tidy: checkpoint temporaries left by a killed writer (`*.tmp.<pid>`) are removed.
#pragma once

#include <string>
#include <vector>

namespace mttt::nn {

enum class RunFolderMode { fresh, resume, overwrite };

class RunFolder {
 public:
  RunFolder(const std::string& path, RunFolderMode mode);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::string& path() const { return path_; }
  // The temporaries removed when the folder was taken (file names).
  const std::vector<std::string>& removed_temporaries() const { return removed_; }

 private:
  std::string path_;
  int lock_fd_ = -1;
  std::vector<std::string> removed_;
};

}  // namespace mttt::nn
