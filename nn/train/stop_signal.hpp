// Graceful stop on SIGINT, SIGTERM and SIGHUP while a scope is alive (Trainer::run): the first
// signal only sets a flag that the training loop reads at the next step boundary (it then writes
// a checkpoint and stops); a second signal ends the process at once with the signal's default
// action. The previous handlers come back when the scope ends.
#pragma once

#include <csignal>

namespace mttt::nn {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The first signal received since the scope began, or 0.
  static int received();
  // Pretends `signal` arrived (tests, and callers that stop a run from inside).
  static void request(int signal);

 private:
  struct sigaction previous_[3];
};

const char* signal_name(int signal);

}  // namespace mttt::nn
