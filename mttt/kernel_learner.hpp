// The kernel learner (paper section 4.2 and appendix C): a TTT layer whose inner-loop learner
// is nonparametric. Its "training data" are the keys k_i with labels v_i (value projections);
// the prediction for a test view q is the Nadaraya-Watson estimator
//   f(q) = sum_i kappa(q, k_i) v_i / sum_i kappa(q, k_i),   kappa(q, k) = exp(q . k / sqrt(d))
// which is softmax self-attention. It is written here with explicit exp, sum and divide (no
// softmax op), so that its equality with the self-attention layer is a real check.
#pragma once

#include "tensor/named_tensors.hpp"

namespace mttt::ttt {

// y (B, N, D); params query.*, key.*, value.*, out.* (kernels (D, D) as (in, out), biases (D)).
Tensor kernel_learner_forward(const NamedTensors& params, std::int64_t heads, const Tensor& y);

}  // namespace mttt::ttt
