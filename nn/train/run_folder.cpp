#include "nn/train/run_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "tensor/error.hpp"

namespace mttt::nn {

namespace fs = std::filesystem;

namespace {

std::string read_holder(int fd) {
  char buffer[64] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  std::string pid = n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "an unknown process" : "pid " + pid;
}

// Checkpoint temporaries are `<name>.tmp.<pid>` (nn/checkpoint/safetensors.cpp).
bool is_temporary(const std::string& name) {
  const auto at = name.rfind(".tmp.");
  if (at == std::string::npos || at + 5 == name.size()) return false;
  return name.find_first_not_of("0123456789", at + 5) == std::string::npos;
}

}  // namespace

RunFolder::RunFolder(const std::string& path, RunFolderMode mode) : path_(path) {
  check(!path.empty(), "run", "run.out is empty: it must name the folder for metrics.jsonl and checkpoint.safetensors");
  std::error_code ec;
  fs::create_directories(path, ec);
  check(!ec, "run", "cannot create the run folder {}: {}", path, ec.message());
  const std::string lock = (fs::path(path) / ".lock").string();
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  check(lock_fd_ >= 0, "run", "cannot open {}: {}", lock, std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const std::string holder = error == EWOULDBLOCK ? read_holder(lock_fd_) : "";
    ::close(lock_fd_);
    lock_fd_ = -1;
    check(error != EWOULDBLOCK, "run", "{} is in use by another training ({}, holding {}); wait for it, stop it, or set another run.out",
          path, holder, lock);
    fail("run", "cannot lock {}: {}", lock, std::strerror(error));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    fail("run", "cannot write {}: {}", lock, std::strerror(errno));

  if (mode == RunFolderMode::fresh) {
    std::vector<std::string> previous;
    // An empty metrics file is a run that failed before its first record: nothing to lose.
    for (const char* name : {"metrics.jsonl", "checkpoint.safetensors"})
      if (fs::exists(fs::path(path) / name) && fs::file_size(fs::path(path) / name, ec) > 0) previous.push_back(name);
    if (!previous.empty()) {
      ::close(lock_fd_);
      lock_fd_ = -1;
      fail("run", "{} holds a previous run ({}): resume it (mttt train --resume {}), start afresh over it (--overwrite), "
           "or set another run.out",
           path, fmt::join(previous, ", "), (fs::path(path) / "checkpoint.safetensors").string());
    }
  }
  // Overwriting: the old checkpoint goes with the old metrics, so that the folder never pairs one
  // run's checkpoint with another's metrics.
  if (mode == RunFolderMode::overwrite) fs::remove(fs::path(path) / "checkpoint.safetensors", ec);
  // Holding the lock, no writer of this folder is alive: every temporary is a killed writer's.
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && is_temporary(name) && fs::remove(entry.path(), ec)) removed_.push_back(name);
  }
}

RunFolder::~RunFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock; the file stays (removing it would race a new holder)
}

}  // namespace mttt::nn
