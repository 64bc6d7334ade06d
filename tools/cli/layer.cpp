// `mttt layer KIND --heads H --params P --input X --out O [--cotangent C] [--steps T]
//  [--eta E[,E...]] [--sgd] [--perm PERM] [--seed S] [--decoder-ln on|off]`
// One drop-in layer on given parameters and input, for checks against other frameworks
// (tests/vectors/reference.py in PyTorch). Writes z; with a cotangent dz, the gradients of sum(z * dz) with respect to
// every parameter (frozen ones included) and to y; for TTT layers also the inner losses before
// each step and the fast weights after it.
#include <fmt/format.h>

#include "mttt/layer_run.hpp"
#include "nn/checkpoint/safetensors.hpp"
#include "tools/cli/commands.hpp"

namespace mttt::cli {

namespace {

struct LayerArgs {
  ttt::LayerRequest request;
  std::string params, input, out, cotangent, perm, decoder_ln;
};

// The files read, the layer run (mttt/layer_run.hpp checks every input before any compute), the
// result written.
void run_layer_command(LayerArgs& a) {
  if (!a.decoder_ln.empty()) a.request.decoder_ln = a.decoder_ln == "on";
  ttt::LayerInputs in;
  in.params = nn::load_safetensors(a.params).tensors;
  in.params_file = a.params;
  in.input_file = a.input;
  in.perm_file = a.perm;
  in.cotangent_file = a.cotangent;
  const auto X = nn::load_safetensors(a.input);
  if (X.contains("y")) in.y = X.at("y");
  if (!a.perm.empty()) in.perm = nn::load_safetensors(a.perm).at("perm");
  if (!a.cotangent.empty()) in.cotangent = nn::load_safetensors(a.cotangent).at("dz");
  const NamedTensors out = ttt::run_layer(a.request, in);
  nn::save_safetensors(a.out, out, {{"kind", a.request.kind}});
  fmt::print("wrote {} ({} tensors)\n", a.out, out.size());
}

}  // namespace

void add_layer_command(CLI::App& app) {
  auto a = std::make_shared<LayerArgs>();
  auto* cmd = app.add_subcommand("layer", "run one drop-in layer on given parameters and input (cross-framework checks)");
  cmd->add_option("kind", a->request.kind, fmt::format("{}", fmt::join(ttt::layer_kinds(), ", ")))->required();
  cmd->add_option("--heads", a->request.heads, "H")->required()->check(count_range());
  cmd->add_option("--params", a->params, "safetensors with the layer's spec names")->required()->check(CLI::ExistingFile);
  cmd->add_option("--input", a->input, "safetensors holding y (B, N, D)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", a->out, "safetensors to write")->required();
  cmd->add_option("--cotangent", a->cotangent, "safetensors holding dz; writes the gradients of sum(z * dz)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--steps", a->request.steps, "T inner steps")->check(count_range());
  cmd->add_option("--eta", a->request.eta, "inner step sizes, one per step (default 1)")->delimiter(',');
  cmd->add_flag("--sgd", a->request.sgd, "mini-batch inner steps on a random split of the tokens");
  cmd->add_option("--perm", a->perm, "safetensors holding perm (H, N) int64 (with --sgd)")->check(CLI::ExistingFile);
  cmd->add_option("--seed", a->request.seed, "seed of the permutation when --perm is not given");
  cmd->add_option("--decoder-ln", a->decoder_ln, "on or off (default: on for mttt_mlp, off for mttt_linear)")
      ->check(CLI::IsMember({"on", "off"}));
  cmd->callback([a] { run_layer_command(*a); });
}

}  // namespace mttt::cli
