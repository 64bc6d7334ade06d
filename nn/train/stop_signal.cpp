#include "nn/train/stop_signal.hpp"

#include <atomic>

namespace mttt::nn {

namespace {

constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
std::atomic<int> g_received{0};
static_assert(std::atomic<int>::is_always_lock_free, "read and written from a signal handler");

void on_signal(int signal) {
  int none = 0;
  if (!g_received.compare_exchange_strong(none, signal)) {
    // The second signal: the default action (terminate) now, whatever the loop is doing.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

}  // namespace

StopSignals::StopSignals() {
  g_received.store(0);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and writes in flight carry on; the loop checks the flag
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &action, &previous_[i]);
}

StopSignals::~StopSignals() {
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &previous_[i], nullptr);
  g_received.store(0);
}

int StopSignals::received() { return g_received.load(); }

void StopSignals::request(int signal) {
  int none = 0;
  g_received.compare_exchange_strong(none, signal);
}

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
  }
  return "a signal";
}

}  // namespace mttt::nn
