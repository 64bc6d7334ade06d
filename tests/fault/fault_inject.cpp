// An LD_PRELOAD shim for the fault tests (run_faults.py): it makes writes and renames of chosen
// files fail, or kills the process in the middle of one, as a full disk or a crash would.
//   MTTT_FAULT_PATH    the fault applies to files whose path contains this text
//   MTTT_FAULT_ACTION  enospc   write(2) writes up to MTTT_FAULT_AFTER bytes (over all matching
//                               files), then fails with ENOSPC
//                      kill     the process sends itself SIGKILL once MTTT_FAULT_AFTER bytes went
//                      rename   rename(2) of a matching source fails with EIO
//                      stall    the first matching write waits MTTT_FAULT_AFTER milliseconds (a slow
//                               disk: time for a test to act while a checkpoint is being written)
// Without MTTT_FAULT_PATH every call passes straight through.
#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Fault {
  const char* path = std::getenv("MTTT_FAULT_PATH");
  std::string action = std::getenv("MTTT_FAULT_ACTION") ? std::getenv("MTTT_FAULT_ACTION") : "";
  long long after = std::getenv("MTTT_FAULT_AFTER") ? std::atoll(std::getenv("MTTT_FAULT_AFTER")) : 0;
  std::atomic<long long> written{0};
};

Fault& fault() {
  static Fault f;
  return f;
}

bool matches_fd(int fd) {
  char link[64], target[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, target, sizeof target - 1);
  if (n <= 0) return false;
  target[n] = '\0';
  return std::strstr(target, fault().path) != nullptr;
}

}  // namespace

extern "C" ssize_t write(int fd, const void* data, size_t size) {
  using Write = ssize_t (*)(int, const void*, size_t);
  static const auto real = reinterpret_cast<Write>(dlsym(RTLD_NEXT, "write"));
  Fault& f = fault();
  if (!f.path || (f.action != "enospc" && f.action != "kill" && f.action != "stall") || !matches_fd(fd))
    return real(fd, data, size);
  if (f.action == "stall") {
    static std::atomic<bool> stalled{false};
    if (!stalled.exchange(true)) ::usleep(static_cast<useconds_t>(f.after * 1000));
    return real(fd, data, size);
  }
  const long long left = f.after - f.written.load();
  if (left >= static_cast<long long>(size)) {
    f.written += static_cast<long long>(size);
    return real(fd, data, size);
  }
  if (f.action == "kill") {
    if (left > 0) real(fd, data, static_cast<size_t>(left));
    ::kill(::getpid(), SIGKILL);
  }
  if (left > 0) {  // a short write first, as a filling disk gives
    f.written += left;
    return real(fd, data, static_cast<size_t>(left));
  }
  errno = ENOSPC;
  return -1;
}

extern "C" int rename(const char* from, const char* to) {
  using Rename = int (*)(const char*, const char*);
  static const auto real = reinterpret_cast<Rename>(dlsym(RTLD_NEXT, "rename"));
  Fault& f = fault();
  if (f.path && f.action == "rename" && std::strstr(from, f.path) != nullptr) {
    errno = EIO;
    return -1;
  }
  return real(from, to);
}
