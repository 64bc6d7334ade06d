// `mttt layer KIND --heads H --params P --input X --out O [--cotangent C] [--steps T]
//  [--eta E[,E...]] [--sgd] [--perm PERM] [--seed S] [--decoder-ln on|off]`
// One drop-in layer on given parameters and input, for checks against other frameworks
// (tests/vectors/reference.py in PyTorch). Writes z; with a cotangent dz, the gradients of sum(z * dz) with respect to
// every parameter (frozen ones included) and to y; for TTT layers also the inner losses before
// each step and the fast weights after it.
#include <fmt/format.h>

#include "mttt/kernel_learner.hpp"
#include "mttt/ttt_layer.hpp"
#include "nn/checkpoint/safetensors.hpp"
#include "nn/functional.hpp"
#include "nn/layers/attention.hpp"
#include "nn/layers/linear_attention.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

namespace {

struct LayerArgs {
  std::string kind, params, input, out, cotangent, perm, decoder_ln;
  std::int64_t heads = 1;
  int steps = 0;
  std::vector<double> eta;
  bool sgd = false;
  std::uint64_t seed = 0;
};

// --perm must hold, for each head, an order of the N tokens: every index once.
Tensor checked_permutation(const std::string& path, std::int64_t heads, std::int64_t tokens) {
  Tensor perm = nn::load_safetensors(path).at("perm");
  check(perm.dtype() == DType::int64 && perm.shape() == Shape{heads, tokens}, "layer",
        "{}: perm is {} {}, expected int64 (H, N) = ({}, {})", path, to_string(perm.dtype()), to_string(perm.shape()),
        heads, tokens);
  const auto values = perm.to_vector<std::int64_t>();
  for (std::int64_t h = 0; h < heads; ++h) {
    std::vector<bool> seen(static_cast<std::size_t>(tokens), false);
    for (std::int64_t i = 0; i < tokens; ++i) {
      const std::int64_t v = values[static_cast<std::size_t>(h * tokens + i)];
      check(v >= 0 && v < tokens && !seen[static_cast<std::size_t>(v)], "layer",
            "{}: perm row {} is not a permutation of 0..{}: {} at position {}", path, h, tokens - 1,
            v >= 0 && v < tokens ? fmt::format("{} repeats", v) : fmt::format("{} is out of range", v), i);
      seen[static_cast<std::size_t>(v)] = true;
    }
  }
  return perm;
}

bool is_ttt(const std::string& kind) { return kind == "mttt_linear" || kind == "mttt_mlp"; }

// The attention kinds through the nn layers (functional application on the given tensors).
Tensor attention_forward(const LayerArgs& a, const NamedTensors& params, const Tensor& y) {
  if (a.kind == "kernel") return ttt::kernel_learner_forward(params, a.heads, y);
  Generator unused(0);
  std::unique_ptr<nn::TokenMixer> layer;
  if (a.kind == "self_attention")
    layer = std::make_unique<nn::SelfAttention>(y.size(2), a.heads, unused, y.dtype());
  else
    layer = std::make_unique<nn::LinearAttention>(
        y.size(2), a.heads, a.kind == "linear_attention" ? nn::FeatureMap::identity : nn::FeatureMap::elu_plus_one,
        unused, y.dtype());
  nn::Substitution scope(*layer, params, {.check_shapes = true, .require_all = true});
  return layer->forward(y);
}

void run_layer(const LayerArgs& a) {
  const std::vector<std::string> kinds = {"self_attention", "linear_attention", "linear_attention_elu",
                                          "kernel",         "mttt_linear",      "mttt_mlp"};
  check(std::find(kinds.begin(), kinds.end(), a.kind) != kinds.end(), "layer",
        "unknown kind '{}': expected self_attention, linear_attention, linear_attention_elu, kernel, mttt_linear or "
        "mttt_mlp",
        a.kind);
  if (!is_ttt(a.kind))
    check(a.steps == 0 && a.eta.empty() && !a.sgd && a.perm.empty() && a.decoder_ln.empty(), "layer",
          "{} has no inner loop: --steps, --eta, --sgd, --perm and --decoder-ln apply to mttt_linear and mttt_mlp only",
          a.kind);
  auto P = nn::load_safetensors(a.params);
  auto X = nn::load_safetensors(a.input);
  check(X.contains("y"), "layer", "{}: the input file must hold 'y' (B, N, D)", a.input);
  Tensor y = X.at("y").detach().requires_grad_();
  check(y.rank() == 3, "layer", "{}: y has shape {}, expected (B, N, D)", a.input, to_string(y.shape()));
  // Checked before the parameters, as every input is checked before any compute.
  const Tensor perm = a.perm.empty() ? Tensor() : checked_permutation(a.perm, a.heads, y.size(1));
  NamedTensors params;
  for (const auto& [name, t] : P.tensors) {
    check(t.dtype() == y.dtype(), "layer", "{}: '{}' is {} but y is {}: parameters and input must share a dtype",
          a.params, name, to_string(t.dtype()), to_string(y.dtype()));
    params.emplace_back(name, t.detach().requires_grad_());
  }

  NamedTensors out;
  Tensor z;
  if (is_ttt(a.kind)) {
    ttt::TTTOptions o = a.kind == "mttt_linear" ? ttt::TTTOptions::mttt_linear(a.heads) : ttt::TTTOptions::mttt_mlp(a.heads);
    o.steps = a.steps > 0 ? a.steps : 1;
    o.eta = a.eta;
    check(o.eta.empty() || static_cast<int>(o.eta.size()) == o.steps, "layer", "--eta has {} values for --steps {}",
          o.eta.size(), o.steps);
    o.sgd = a.sgd;
    if (!a.decoder_ln.empty()) {
      check(a.decoder_ln == "on" || a.decoder_ln == "off", "layer", "--decoder-ln must be on or off, got '{}'", a.decoder_ln);
      o.decoder_ln = a.decoder_ln == "on";
    }
    ttt::TTTParams p = ttt::TTTParams::from_named(params, o);
    ttt::ForwardOptions f;
    f.collect_inner_losses = true;
    f.collect_fast_weights = true;
    if (o.sgd) {
      check(y.size(1) % o.steps == 0, "layer", "--sgd splits N = {} tokens into T = {} equal chunks: N must be divisible by T",
            y.size(1), o.steps);
      if (!a.perm.empty()) {
        f.permutation = perm;
      } else {
        Generator generator(a.seed);
        f.permutation = ttt::draw_permutation(a.heads, y.size(1), generator);
      }
      out.emplace_back("perm", f.permutation);
    } else {
      check(a.perm.empty(), "layer", "--perm applies with --sgd only");
    }
    ttt::TTTOutput result = ttt::ttt_forward(p, o, y, f);
    z = result.z;
    for (std::size_t t = 0; t + 1 < result.inner_losses.size(); ++t)
      out.emplace_back(fmt::format("aux.inner_loss.step{}", t), result.inner_losses[t]);
    out.emplace_back("aux.inner_loss.final", result.inner_losses.back());
    auto names = ttt::inner_names(o.learner);
    for (std::size_t t = 0; t < result.fast_weights.size(); ++t)
      for (std::size_t i = 0; i < names.size(); ++i)
        out.emplace_back(fmt::format("aux.W.step{}.{}", t + 1, names[i]), result.fast_weights[t].tensors[i]);
  } else {
    z = attention_forward(a, params, y);
  }
  out.emplace(out.begin(), "z", z.detach());
  if (!a.cotangent.empty()) {
    Tensor dz = nn::load_safetensors(a.cotangent).at("dz");
    check(dz.shape() == z.shape() && dz.dtype() == z.dtype(), "layer", "{}: dz is {} {} but z is {} {}", a.cotangent,
          to_string(dz.shape()), to_string(dz.dtype()), to_string(z.shape()), to_string(z.dtype()));
    std::vector<Tensor> inputs = {y};
    for (const auto& [name, t] : params) inputs.push_back(t);
    Tensor loss = sum(z * dz);
    auto grads = grad({loss}, inputs, {}, {.allow_unused = true});
    out.emplace_back("loss", loss.detach());
    out.emplace_back("grad.y", grads[0]);
    for (std::size_t i = 0; i < params.size(); ++i) out.emplace_back("grad." + params[i].first, grads[i + 1]);
  }
  nn::save_safetensors(a.out, out, {{"kind", a.kind}});
  fmt::print("wrote {} ({} tensors)\n", a.out, out.size());
}

}  // namespace

void add_layer_command(CLI::App& app) {
  auto a = std::make_shared<LayerArgs>();
  auto* cmd = app.add_subcommand("layer", "run one drop-in layer on given parameters and input (cross-framework checks)");
  cmd->add_option("kind", a->kind, "self_attention, linear_attention, linear_attention_elu, kernel, mttt_linear, mttt_mlp")
      ->required();
  cmd->add_option("--heads", a->heads, "H")->required()->check(count_range());
  cmd->add_option("--params", a->params, "safetensors with the layer's spec names")->required()->check(CLI::ExistingFile);
  cmd->add_option("--input", a->input, "safetensors holding y (B, N, D)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", a->out, "safetensors to write")->required();
  cmd->add_option("--cotangent", a->cotangent, "safetensors holding dz; writes the gradients of sum(z * dz)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--steps", a->steps, "T inner steps")->check(count_range());
  cmd->add_option("--eta", a->eta, "inner step sizes, one per step (default 1)")->delimiter(',');
  cmd->add_flag("--sgd", a->sgd, "mini-batch inner steps on a random split of the tokens");
  cmd->add_option("--perm", a->perm, "safetensors holding perm (H, N) int64 (with --sgd)")->check(CLI::ExistingFile);
  cmd->add_option("--seed", a->seed, "seed of the permutation when --perm is not given");
  cmd->add_option("--decoder-ln", a->decoder_ln, "on or off (default: on for mttt_mlp, off for mttt_linear)");
  cmd->callback([a] { run_layer(*a); });
}

}  // namespace mttt::cli
