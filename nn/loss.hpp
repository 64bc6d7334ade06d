// Softmax cross-entropy for classification, with integer labels or soft labels (mixup), and
// optional label smoothing:
//   target = (1 - s) * labels + s / classes          (labels one-hot when given as integers)
//   loss_b = -sum_c target_bc * log_softmax(logits_b)_c
// The gradient flows to the logits (and to soft labels, should they require it).
#pragma once

#include "tensor/core.hpp"

namespace mttt::nn {

enum class Reduction { mean, sum, none };

struct CrossEntropyOptions {
  double label_smoothing = 0;  // s in [0, 1)
  Reduction reduction = Reduction::mean;
};

// logits (B, classes); labels int64 (B) or soft (B, classes) in the logits' dtype.
// Returns a scalar, or (B) with Reduction::none.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const CrossEntropyOptions& options = {});

// How many rows' largest logit is at the label (the largest soft label's class for soft labels).
std::int64_t count_correct(const Tensor& logits, const Tensor& labels);

}  // namespace mttt::nn
