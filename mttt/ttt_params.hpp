// A TTT layer's parameters, declared once in a table: name (the spec's, as in checkpoints),
// shape as a function of D, H and the learner, initialiser, and whether it trains. Everything
// else follows from the table: the named list (checkpoints, `mttt layer`), the strict reader,
// the initialisation, and the TTTMixer's registration (hence counts and `mttt params`).
// The rows (ttt_params.cpp) follow the table of docs/mttt-layer.md; W0 (inner.*) trains only
// with train_w0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mttt/ttt_options.hpp"
#include "tensor/named_tensors.hpp"

namespace mttt::ttt {

struct TTTParams {
  Tensor phi_kernel, phi_bias;               // theta_phi, the training view ("key")
  Tensor psi_kernel, psi_bias;               // theta_psi, the test view ("query")
  Tensor g_kernel, g_bias;                   // theta_g, the decoder ("value")
  Tensor h_kernel, h_bias;                   // theta_h, the output projection
  Tensor decoder_ln_scale, decoder_ln_bias;  // undefined without decoder LN
  FastWeights inner;                         // W0

  // The present parameters in the table's order, under the spec's names without a prefix.
  NamedTensors named(const TTTOptions& options) const;
  // Strict: a missing or unexpected name, or a shape or dtype that disagrees with H and D (D
  // read from phi.kernel), is an error naming it.
  static TTTParams from_named(const NamedTensors& tensors, const TTTOptions& options);
};

// One row of the table.
struct TTTParamRow {
  enum class Init { view, zeros, ones, inner_xavier };
  const char* name;
  Tensor& (*slot)(TTTParams&);
  Shape (*shape)(std::int64_t D, std::int64_t H);  // d = D / H
  Init init;
  bool (*present)(const TTTOptions&);
  bool fast_weight;  // part of W0: trains only with train_w0

  const Tensor& get(const TTTParams& p) const { return slot(const_cast<TTTParams&>(p)); }
};

// The rows present for `options`, in order.
std::vector<const TTTParamRow*> ttt_param_rows(const TTTOptions& options);
// The names of the fast weights W0 (inner.*) for a learner.
std::vector<std::string> inner_names(LearnerKind kind);

// Initial parameters as the table says, drawn in its order from `generator`.
TTTParams init_ttt_params(const TTTOptions& options, std::int64_t width, Generator& generator,
                          DType dtype = DType::float32);

}  // namespace mttt::ttt
