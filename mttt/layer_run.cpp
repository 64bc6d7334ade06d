#include "mttt/layer_run.hpp"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "mttt/kernel_learner.hpp"
#include "mttt/ttt_layer.hpp"
#include "nn/functional.hpp"
#include "nn/layers/attention.hpp"
#include "nn/layers/linear_attention.hpp"
#include "tensor/error.hpp"

namespace mttt::ttt {

namespace {

bool is_ttt(const std::string& kind) { return kind == "mttt_linear" || kind == "mttt_mlp"; }

// Each head's row of `perm` an order of the N tokens: every index once.
void check_permutation(const Tensor& perm, const std::string& file, std::int64_t heads, std::int64_t tokens) {
  check(perm.dtype() == DType::int64 && perm.shape() == Shape{heads, tokens}, "layer",
        "{}: perm is {} {}, expected int64 (H, N) = ({}, {})", file, to_string(perm.dtype()), to_string(perm.shape()),
        heads, tokens);
  const auto values = perm.to_vector<std::int64_t>();
  for (std::int64_t h = 0; h < heads; ++h) {
    std::vector<bool> seen(static_cast<std::size_t>(tokens), false);
    for (std::int64_t i = 0; i < tokens; ++i) {
      const std::int64_t v = values[static_cast<std::size_t>(h * tokens + i)];
      check(v >= 0 && v < tokens && !seen[static_cast<std::size_t>(v)], "layer",
            "{}: perm row {} is not a permutation of 0..{}: {} at position {}", file, h, tokens - 1,
            v >= 0 && v < tokens ? fmt::format("{} repeats", v) : fmt::format("{} is out of range", v), i);
      seen[static_cast<std::size_t>(v)] = true;
    }
  }
}

// The attention kinds through the nn layers (functional application on the given tensors).
Tensor attention_forward(const LayerRequest& r, const NamedTensors& params, const Tensor& y) {
  if (r.kind == "kernel") return kernel_learner_forward(params, r.heads, y);
  Generator unused(0);
  std::unique_ptr<nn::TokenMixer> layer;
  if (r.kind == "self_attention")
    layer = std::make_unique<nn::SelfAttention>(y.size(2), r.heads, unused, y.dtype());
  else
    layer = std::make_unique<nn::LinearAttention>(
        y.size(2), r.heads, r.kind == "linear_attention" ? nn::FeatureMap::identity : nn::FeatureMap::elu_plus_one,
        unused, y.dtype());
  nn::Substitution scope(*layer, params, {.check_shapes = true, .require_all = true});
  return layer->forward(y);
}

}  // namespace

const std::vector<std::string>& layer_kinds() {
  static const std::vector<std::string> kinds = {"self_attention", "linear_attention", "linear_attention_elu",
                                                 "kernel",         "mttt_linear",      "mttt_mlp"};
  return kinds;
}

std::optional<TTTOptions> check_layer_inputs(const LayerRequest& r, const LayerInputs& in) {
  const auto& kinds = layer_kinds();
  check(std::find(kinds.begin(), kinds.end(), r.kind) != kinds.end(), "layer", "unknown kind '{}': expected {}", r.kind,
        fmt::join(kinds, ", "));
  check(r.heads >= 1, "layer", "--heads must be at least 1, got {}", r.heads);
  if (!is_ttt(r.kind))
    check(r.steps == 0 && r.eta.empty() && !r.sgd && !in.perm.defined() && !r.decoder_ln, "layer",
          "{} has no inner loop: --steps, --eta, --sgd, --perm and --decoder-ln apply to mttt_linear and mttt_mlp only",
          r.kind);
  check(in.y.defined(), "layer", "{}: the input file must hold 'y' (B, N, D)", in.input_file);
  const Tensor& y = in.y;
  check(y.rank() == 3, "layer", "{}: y has shape {}, expected (B, N, D)", in.input_file, to_string(y.shape()));
  check(y.dtype() != DType::int64, "layer", "{}: y is int64, expected float32 or float64", in.input_file);
  for (const auto& [name, t] : in.params)
    check(t.dtype() == y.dtype(), "layer", "{}: '{}' is {} but y is {}: parameters and input must share a dtype",
          in.params_file, name, to_string(t.dtype()), to_string(y.dtype()));
  // Every kind maps (B, N, D) to (B, N, D): z has y's shape.
  if (in.cotangent.defined())
    check(in.cotangent.shape() == y.shape() && in.cotangent.dtype() == y.dtype(), "layer",
          "{}: dz is {} {} but z will be {} {} (y's shape and dtype)", in.cotangent_file,
          to_string(in.cotangent.shape()), to_string(in.cotangent.dtype()), to_string(y.shape()), to_string(y.dtype()));
  check(!in.perm.defined() || r.sgd, "layer", "--perm applies with --sgd only");
  if (in.perm.defined()) check_permutation(in.perm, in.perm_file, r.heads, y.size(1));
  if (!is_ttt(r.kind)) return std::nullopt;

  TTTOptions o = r.kind == "mttt_linear" ? TTTOptions::mttt_linear(r.heads) : TTTOptions::mttt_mlp(r.heads);
  o.steps = r.steps > 0 ? r.steps : 1;
  o.eta = r.eta;
  o.sgd = r.sgd;
  if (r.decoder_ln) o.decoder_ln = *r.decoder_ln;
  o.validate(y.size(2), y.size(1));
  return o;
}

NamedTensors run_layer(const LayerRequest& r, const LayerInputs& in) {
  const std::optional<TTTOptions> options = check_layer_inputs(r, in);
  const Tensor y = in.y.detach().requires_grad_();
  NamedTensors params;
  for (const auto& [name, t] : in.params) params.emplace_back(name, t.detach().requires_grad_());

  NamedTensors out;
  Tensor z;
  if (options) {
    const TTTOptions& o = *options;
    const TTTParams p = TTTParams::from_named(params, o);
    ForwardOptions f;
    f.collect_inner_losses = true;
    f.collect_fast_weights = true;
    if (o.sgd) {
      if (in.perm.defined()) {
        f.permutation = in.perm;
      } else {
        Generator generator(r.seed);
        f.permutation = draw_permutation(r.heads, y.size(1), generator);
      }
      out.emplace_back("perm", f.permutation);
    }
    TTTOutput result = ttt_forward(p, o, y, f);
    z = result.z;
    for (std::size_t t = 0; t + 1 < result.inner_losses.size(); ++t)
      out.emplace_back(fmt::format("aux.inner_loss.step{}", t), result.inner_losses[t]);
    out.emplace_back("aux.inner_loss.final", result.inner_losses.back());
    const auto names = inner_names(o.learner);
    for (std::size_t t = 0; t < result.fast_weights.size(); ++t)
      for (std::size_t i = 0; i < names.size(); ++i)
        out.emplace_back(fmt::format("aux.W.step{}.{}", t + 1, names[i]), result.fast_weights[t].tensors[i]);
  } else {
    z = attention_forward(r, params, y);
  }
  out.emplace(out.begin(), "z", z.detach());
  if (in.cotangent.defined()) {
    std::vector<Tensor> inputs = {y};
    for (const auto& [name, t] : params) inputs.push_back(t);
    const Tensor loss = sum(z * in.cotangent);
    const auto grads = grad({loss}, inputs, {}, {.allow_unused = true});
    out.emplace_back("loss", loss.detach());
    out.emplace_back("grad.y", grads[0]);
    for (std::size_t i = 0; i < params.size(); ++i) out.emplace_back("grad." + params[i].first, grads[i + 1]);
  }
  return out;
}

}  // namespace mttt::ttt
