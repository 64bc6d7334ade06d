#include "nn/loss.hpp"

#include "tensor/tensor.hpp"

namespace mttt::nn {

namespace {

void check_labels(const char* op, const Tensor& logits, const Tensor& labels) {
  check(logits.defined() && logits.rank() == 2 && is_floating(logits.dtype()), op,
        "logits must be floating-point (B, classes), got {}", logits.defined() ? to_string(logits.shape()) : "none");
  const std::int64_t B = logits.size(0), C = logits.size(1);
  check(labels.defined(), op, "labels are undefined");
  if (labels.dtype() == DType::int64) {
    check(labels.shape() == Shape{B}, op, "integer labels {} must be (B) = ({}) for logits {}",
          to_string(labels.shape()), B, to_string(logits.shape()));
  } else {
    check(labels.shape() == logits.shape() && labels.dtype() == logits.dtype(), op,
          "soft labels {} {} must match the logits {} {}", to_string(labels.shape()), to_string(labels.dtype()),
          to_string(logits.shape()), to_string(logits.dtype()));
  }
  (void)C;
}

}  // namespace

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const CrossEntropyOptions& o) {
  check_labels("softmax_cross_entropy", logits, labels);
  check(o.label_smoothing >= 0 && o.label_smoothing < 1, "softmax_cross_entropy",
        "label smoothing {} is outside [0, 1)", o.label_smoothing);
  const std::int64_t C = logits.size(1);
  // On a device one_hot below checks the labels there, without waiting for it (the error comes
  // at the device's next synchronisation); reading them here would cost one every step.
  if (labels.dtype() == DType::int64 && labels.device() == kCPU) {
    std::vector<std::int64_t> v = labels.to_vector<std::int64_t>();
    for (auto l : v)
      check(l >= 0 && l < C, "softmax_cross_entropy", "label {} is outside [0, {}) for logits {}", l, C,
            to_string(logits.shape()));
  }
  Tensor target = labels.dtype() == DType::int64 ? one_hot(labels, C, logits.dtype()) : labels;
  const double keep = 1 - o.label_smoothing, spread = o.label_smoothing / static_cast<double>(C);
  Tensor per_class =
      fuse([keep, spread](Expr t, Expr lp) { return -(t * keep + spread) * lp; }, target, log_softmax(logits, -1));
  Tensor per_example = sum(per_class, {1});  // (B)
  switch (o.reduction) {
    case Reduction::mean:
      return mean(per_example);
    case Reduction::sum:
      return sum(per_example);
    default:
      return per_example;
  }
}

std::int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  check_labels("count_correct", logits, labels);
  std::vector<std::int64_t> predicted = argmax(logits.detach(), 1).to_vector<std::int64_t>();
  std::vector<std::int64_t> truth = labels.dtype() == DType::int64
                                        ? labels.to_vector<std::int64_t>()
                                        : argmax(labels.detach(), 1).to_vector<std::int64_t>();
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == truth[i];
  return correct;
}

}  // namespace mttt::nn
