// Grad mode: whether operations are recorded on the tape. Thread-local; scopes nest.
//
//   { NoGrad off;  ...            // nothing recorded
//     { EnableGrad on; ... } }    // recorded again (a TTT layer's inner loop at evaluation)
#pragma once

namespace mttt::autodiff {

bool grad_enabled();
void set_grad_enabled(bool enabled);

class GradModeScope {
 public:
  explicit GradModeScope(bool enabled);
  ~GradModeScope();
  GradModeScope(const GradModeScope&) = delete;
  GradModeScope& operator=(const GradModeScope&) = delete;

 private:
  bool previous_;
};

class NoGrad : public GradModeScope {
 public:
  NoGrad() : GradModeScope(false) {}
};

class EnableGrad : public GradModeScope {
 public:
  EnableGrad() : GradModeScope(true) {}
};

// Anomaly mode: every operation checks its output (forward) and every backward rule its
// cotangents for NaN and Inf, and throws naming the first operation that produced one.
bool anomaly_enabled();
void set_anomaly_enabled(bool enabled);

class DetectAnomaly {
 public:
  DetectAnomaly();
  ~DetectAnomaly();
  DetectAnomaly(const DetectAnomaly&) = delete;
  DetectAnomaly& operator=(const DetectAnomaly&) = delete;

 private:
  bool previous_;
};

// The op whose backward rule is running on this thread (null outside a sweep), so that
// anomaly reports from inside a rule name the op being differentiated.
const char* current_backward_op();

class BackwardOpScope {
 public:
  explicit BackwardOpScope(const char* op);
  ~BackwardOpScope();
  BackwardOpScope(const BackwardOpScope&) = delete;
  BackwardOpScope& operator=(const BackwardOpScope&) = delete;

 private:
  const char* previous_;
};

}  // namespace mttt::autodiff
