#include "nn/optim/optimizer.hpp"

#include <algorithm>
#include <cmath>

#include "tensor/tensor.hpp"

namespace mttt::nn {

Optimizer::Optimizer(NamedTensors params, OptimizerOptions options, const char* name)
    : params_(std::move(params)), options_(std::move(options)), name_(name) {
  for (const auto& [key, p] : params_) {
    check(p.defined() && is_floating(p.dtype()), name_, "parameter '{}' must be a floating-point tensor", key);
    frozen_.push_back(matches_any(options_.frozen, key));
    decayed_.push_back(options_.weight_decay != 0 && matches_any(options_.decay_patterns, key));
  }
}

Tensor& Optimizer::slot(std::size_t s, std::size_t i) {
  if (slots_.size() < slot_names_.size()) slots_.resize(slot_names_.size(), std::vector<Tensor>(params_.size()));
  Tensor& t = slots_[s][i];
  if (!t.defined()) t = zeros_like(params_[i].second.detach());
  return t;
}

double Optimizer::effective_lr() const { return options_.lr(steps_) * options_.multiplier(steps_); }

void Optimizer::zero_grad() {
  for (auto& [key, p] : params_)
    if (p.requires_grad()) p.zero_grad();
}

bool Optimizer::step(bool check_finite) {
  NoGrad no_grad;
  prepare_step();
  compute_norm();
  // Where non-finite gradients must be caught at once (run.nonfinite = skip), the norm is read
  // here: one synchronisation. Otherwise nothing crosses to the host, and a non-finite norm
  // applies nothing all the same (apply_update).
  if (check_finite && has_norm_ && !std::isfinite(squared_grad_norm_.item<double>())) return false;
  apply_update();
  finish_step();
  return true;
}

void Optimizer::update() {
  NoGrad no_grad;
  compute_norm();
  apply_update();
}

void Optimizer::prepare_step() {
  const double lr = options_.lr(steps_), multiplier = options_.multiplier(steps_);
  std::vector<double> values = {lr, multiplier, options_.weight_decay * (options_.decay_scaled_by_lr ? lr : 1.0)};
  for (double v : direction_scalars(steps_)) values.push_back(v);
  // One tensor per dtype of the trainable parameters, allocated once and then refreshed.
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    if (frozen_[i]) continue;
    auto held = std::find_if(step_scalars_.begin(), step_scalars_.end(), [&](const auto& e) { return e.first == p.dtype(); });
    if (held != step_scalars_.end() && held->second.device() == p.device()) continue;
    if (held != step_scalars_.end()) step_scalars_.erase(held);
    step_scalars_.emplace_back(p.dtype(), empty({static_cast<std::int64_t>(values.size())}, {p.dtype(), p.device()}));
  }
  // Each dtype's values rounded on the host as a constant of a fused program is (static_cast),
  // and copied without waiting.
  for (const auto& [dtype, t] : step_scalars_)
    dispatch_dtype(dtype, [&](auto zero) {
      using T = decltype(zero);
      std::vector<T> host(values.size());
      for (std::size_t k = 0; k < values.size(); ++k) host[k] = static_cast<T>(values[k]);
      copy_(t, from_host(host.data(), t.shape(), {dtype, kCPU}));  // host to device, queued
    });
}

Tensor Optimizer::step_scalar(DType dtype, int k) const {
  for (const auto& [d, t] : step_scalars_)
    if (d == dtype) return select(t, 0, k);
  fail(name_, "no step scalars for {} parameters: call prepare_step() before update()", to_string(dtype));
}

void Optimizer::compute_norm() {
  // Global norm over the trainable gradients, accumulated in float64 on the parameters' device.
  // Nothing crosses to the host: the clipping factor min(1, clip_norm / norm) is computed and
  // applied there, and last_grad_norm() reads the norm only when asked. The norm and the flag
  // are written into tensors kept across steps, so that after a replayed update (tensor/graph.hpp)
  // they hold the replay's values whatever ran eagerly in between.
  std::vector<Tensor> squares;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].second.grad();
    if (frozen_[i] || !g.defined()) continue;
    squares.push_back(sum(cast(square(g), DType::float64)));
  }
  has_norm_ = !squares.empty();
  if (!has_norm_) return;
  const Device device = squares.front().device();
  if (!squared_grad_norm_.defined() || squared_grad_norm_.device() != device) {
    squared_grad_norm_ = empty({}, {DType::float64, device});
    norm_finite_ = empty({}, {DType::float64, device});
  }
  Tensor partial = squares.front();
  for (std::size_t k = 1; k + 1 < squares.size(); ++k) partial = partial + squares[k];
  if (squares.size() == 1) copy_(squared_grad_norm_, partial);
  else fuse_into(squared_grad_norm_, [](Expr a, Expr b) { return a + b; }, partial, squares.back());
  fuse_into(norm_finite_, [](Expr s) { return eq(s - s, s.constant(0.0)); }, squared_grad_norm_);  // Inf - Inf, NaN: NaN
}

void Optimizer::apply_update() {
  // A non-finite norm applies nothing: every parameter and slot keeps its value where the flag
  // `applied` (1 when the norm is finite) is 0, a choice made on the device.
  const Tensor& squares = squared_grad_norm_;
  Tensor clip, applied;  // float64 scalars
  if (has_norm_) {
    applied = norm_finite_;
    if (options_.clip_norm > 0) {
      const double c = options_.clip_norm;
      clip = fuse([c](Expr s) { return minimum(s.constant(1.0), c / sqrt(s)); }, squares);
    }
  }
  // The scalars in each gradient dtype, cast once.
  std::vector<std::pair<DType, Tensor>> clip_as, applied_as;
  auto in_dtype = [](std::vector<std::pair<DType, Tensor>>& cache, const Tensor& t, DType dtype) {
    for (const auto& [d, c] : cache)
      if (d == dtype) return c;
    return cache.emplace_back(dtype, cast(t, dtype)).second;
  };
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    Tensor g = p.grad();
    if (frozen_[i] || !g.defined()) continue;
    const Tensor ok = in_dtype(applied_as, applied, g.dtype());
    Tensor d = direction(i, clip.defined() ? g * in_dtype(clip_as, clip, g.dtype()) : g, ok);
    const Tensor lr = step_scalar(p.dtype(), kLr), multiplier = step_scalar(p.dtype(), kMultiplier);
    // p <- p - multiplier (lr d + decay p), written in place.
    if (decayed_[i]) {
      auto rule = [](Expr p_, Expr d_, Expr ok_, Expr m, Expr lr_, Expr wd) {
        return where(ok_, p_ - m * (lr_ * d_ + wd * p_), p_);
      };
      const Tensor wd = step_scalar(p.dtype(), kDecay);
      if (p.is_contiguous()) fuse_into(p, rule, p, d, ok, multiplier, lr, wd);
      else copy_(p, fuse(rule, p.detach(), d, ok, multiplier, lr, wd));
    } else {
      auto rule = [](Expr p_, Expr d_, Expr ok_, Expr m, Expr lr_) { return where(ok_, p_ - m * (lr_ * d_), p_); };
      if (p.is_contiguous()) fuse_into(p, rule, p, d, ok, multiplier, lr);
      else copy_(p, fuse(rule, p.detach(), d, ok, multiplier, lr));
    }
  }
}

Tensor Optimizer::grad_norm_finite() const { return has_norm_ ? norm_finite_ : Tensor(); }

double Optimizer::last_grad_norm() const {
  return has_norm_ ? std::sqrt(squared_grad_norm_.item<double>()) : 0.0;
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  out.emplace_back("optimizer.step", full({}, static_cast<double>(steps_), {DType::int64}));
  for (std::size_t s = 0; s < slots_.size(); ++s)
    for (std::size_t i = 0; i < params_.size(); ++i)
      if (slots_[s][i].defined()) out.emplace_back("optimizer." + slot_names_[s] + "." + params_[i].first, slots_[s][i]);
  return out;
}

void Optimizer::load_state(const NamedTensors& state) {
  auto find = [&](const std::string& key) { return find_tensor(state, key); };
  const Tensor* step = find("optimizer.step");
  check(step != nullptr, name_, "optimizer state lacks 'optimizer.step'");
  steps_ = step->item<std::int64_t>();
  for (std::size_t s = 0; s < slot_names_.size(); ++s) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (frozen_[i]) continue;
      const std::string key = "optimizer." + slot_names_[s] + "." + params_[i].first;
      const Tensor* t = find(key);
      if (!t) {
        check(steps_ == 0, name_, "optimizer state lacks '{}'", key);
        continue;
      }
      const Tensor& p = params_[i].second;
      check(t->shape() == p.shape() && t->dtype() == p.dtype(), name_, "'{}' is {} {} but the parameter is {} {}", key,
            to_string(t->shape()), to_string(t->dtype()), to_string(p.shape()), to_string(p.dtype()));
      slot(s, i) = contiguous(to(t->detach(), p.device()));
    }
  }
}

Sgd::Sgd(NamedTensors params, OptimizerOptions options, double momentum, bool nesterov)
    : Optimizer(std::move(params), std::move(options), "sgd"), momentum_(momentum), nesterov_(nesterov) {
  slot_names_ = {"momentum"};
}

Tensor Sgd::direction(std::size_t i, const Tensor& g, const Tensor& applied) {
  if (momentum_ == 0) return g;
  Tensor& buf = slot(0, i);
  const double m = momentum_;
  fuse_into(buf, [m](Expr b, Expr g_, Expr ok) { return where(ok, m * b + g_, b); }, buf, g, applied);
  return nesterov_ ? fuse([m](Expr b, Expr g_) { return g_ + m * b; }, buf, g) : buf;
}

Adam::Adam(NamedTensors params, OptimizerOptions options, double beta1, double beta2, double eps)
    : Optimizer(std::move(params), std::move(options), "adam"), beta1_(beta1), beta2_(beta2), eps_(eps) {
  slot_names_ = {"mu", "nu"};
}

Tensor Adam::direction(std::size_t i, const Tensor& g, const Tensor& applied) {
  Tensor& mu = slot(0, i);
  Tensor& nu = slot(1, i);
  const double b1 = beta1_, b2 = beta2_, eps = eps_;
  fuse_into(mu, [b1](Expr m, Expr g_, Expr ok) { return where(ok, b1 * m + (1 - b1) * g_, m); }, mu, g, applied);
  fuse_into(nu, [b2](Expr v, Expr g_, Expr ok) { return where(ok, b2 * v + (1 - b2) * g_ * g_, v); }, nu, g, applied);
  return fuse([eps](Expr m, Expr v, Expr c1, Expr c2) { return (m / c1) / (sqrt(v / c2) + eps); }, mu, nu,
              direction_scalar(mu.dtype(), 0), direction_scalar(mu.dtype(), 1));
}

std::vector<double> Adam::direction_scalars(std::int64_t s) const {
  const double t = static_cast<double>(s + 1);
  return {1 - std::pow(beta1_, t), 1 - std::pow(beta2_, t)};
}

}  // namespace mttt::nn
