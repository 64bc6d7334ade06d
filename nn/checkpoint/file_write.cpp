#include "nn/checkpoint/file_write.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "tensor/error.hpp"

namespace mttt::nn {

void write_all(int fd, std::string_view data, const std::string& path, const char* op) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(op, "writing {} failed: {}", path, n < 0 ? std::strerror(errno) : "no progress");
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void write_file_atomically(const std::string& path, const std::vector<std::string_view>& pieces, const char* op) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  check(fd >= 0, op, "cannot write {}: {}", temporary, std::strerror(errno));
  try {
    for (std::string_view piece : pieces) write_all(fd, piece, temporary, op);
    // Durable before the rename publishes it.
    check(::fsync(fd) == 0, op, "writing {} failed (fsync): {}", temporary, std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    fail(op, "writing {} failed (close): {}", temporary, std::strerror(error));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    fail(op, "cannot move {} to {}: {}", temporary, path, std::strerror(error));
  }
  // The rename itself durable: sync the folder (best effort: some file systems refuse it).
  const std::string folder = std::filesystem::path(path).parent_path().string();
  const int dir = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace mttt::nn
