// One drop-in layer applied to given parameters and input, as `mttt layer` runs it
// (tools/cli/layer.cpp) for checks against other frameworks (tests/vectors/reference.py). The
// command reads the files and writes the result; everything between is here, so that the input
// checks are one library function that fuzz/fuzz_layer.cpp drives.
//
//   LayerInputs in;
//   in.params = load_safetensors("p.safetensors").tensors;
//   in.y = load_safetensors("x.safetensors").at("y");
//   NamedTensors out = run_layer({.kind = "mttt_mlp", .heads = 3, .steps = 4}, in);
//   // z, the inner losses and fast weights, with a cotangent the gradients
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mttt/ttt_options.hpp"
#include "tensor/named_tensors.hpp"

namespace mttt::ttt {

// What is asked: the kind and the flags of `mttt layer`.
struct LayerRequest {
  std::string kind;                 // layer_kinds()
  std::int64_t heads = 1;
  int steps = 0;                    // T; 0: not given (1 for TTT kinds)
  std::vector<double> eta;          // one per step; empty: 1
  bool sgd = false;
  std::optional<bool> decoder_ln;   // not given: the kind's default
  std::uint64_t seed = 0;           // of the SGD permutation when none is given
};

// The tensors, and the files they came from (for messages).
struct LayerInputs {
  NamedTensors params;  // the layer's spec names
  Tensor y;                 // (B, N, D)
  Tensor perm;              // (H, N) int64, with sgd; undefined: drawn from the seed
  Tensor cotangent;         // dz, z's shape; undefined: no gradients
  std::string params_file = "params", input_file = "input", perm_file = "perm", cotangent_file = "cotangent";
};

const std::vector<std::string>& layer_kinds();

// Every check on the request and the inputs that needs no compute: the kind, flags that the kind
// does not take, y's rank, one dtype for parameters, input and cotangent, the cotangent's shape,
// the permutation (each head's row an order of the N tokens), and for TTT kinds the options
// (TTTOptions::validate: heads, eta per step, N divisible by T with SGD). Throws naming the flag,
// file or tensor. Returns the TTT options for TTT kinds.
std::optional<TTTOptions> check_layer_inputs(const LayerRequest& request, const LayerInputs& inputs);

// check_layer_inputs, then the layer: "z"; for TTT kinds "aux.inner_loss.step<t>",
// "aux.inner_loss.final", "aux.W.step<t>.<name>" and with SGD "perm"; with a cotangent "loss"
// (sum(z * dz)), "grad.y" and "grad.<parameter>" for every parameter. The parameters' names and
// shapes are checked by the layers themselves before any compute.
NamedTensors run_layer(const LayerRequest& request, const LayerInputs& inputs);

}  // namespace mttt::ttt
