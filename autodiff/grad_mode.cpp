#include "autodiff/grad_mode.hpp"

#include <atomic>

namespace mttt::autodiff {

namespace {
thread_local bool t_grad_enabled = true;
thread_local const char* t_backward_op = nullptr;
// Anomaly mode is process-wide: a data-loader thread's NaN is as interesting as the main one's.
std::atomic<bool> g_anomaly_enabled{false};
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool enabled) { t_grad_enabled = enabled; }

GradModeScope::GradModeScope(bool enabled) : previous_(t_grad_enabled) { t_grad_enabled = enabled; }
GradModeScope::~GradModeScope() { t_grad_enabled = previous_; }

bool anomaly_enabled() { return g_anomaly_enabled.load(std::memory_order_relaxed); }
void set_anomaly_enabled(bool enabled) { g_anomaly_enabled.store(enabled, std::memory_order_relaxed); }

DetectAnomaly::DetectAnomaly() : previous_(anomaly_enabled()) { set_anomaly_enabled(true); }
DetectAnomaly::~DetectAnomaly() { set_anomaly_enabled(previous_); }

const char* current_backward_op() { return t_backward_op; }
BackwardOpScope::BackwardOpScope(const char* op) : previous_(t_backward_op) { t_backward_op = op; }
BackwardOpScope::~BackwardOpScope() { t_backward_op = previous_; }

}  // namespace mttt::autodiff
