#include "mttt/ttt_mixer.hpp"

#include <deque>

#include <fmt/format.h>

#include "nn/random_step.hpp"

namespace mttt::ttt {

namespace {

// A child module that only holds parameters under short names ("kernel", "bias").
class ParameterGroup final : public nn::Module {
 public:
  Tensor& add(const std::string& name, Tensor value) {
    Tensor& slot = slots_.emplace_back();  // a deque: slots never move
    register_parameter(name, slot, std::move(value));
    return slot;
  }
  std::string describe() const override { return "Parameters"; }

 private:
  std::deque<Tensor> slots_;
};

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t x = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ULL;
  return x ^ (x >> 29);
}
}  // namespace

TTTMixer::TTTMixer(const TTTOptions& options, std::int64_t width, Generator& generator, DType dtype)
    : options_(options), width_(width) {
  TTTParams p = init_ttt_params(options, width, generator, dtype);
  // A seed of this layer's own, drawn from the init generator: layers differ, runs repeat.
  PhiloxStream draw = generator.take(1);
  auto words = philox4x32({static_cast<std::uint32_t>(draw.offset), static_cast<std::uint32_t>(draw.offset >> 32), 0, 0},
                          {static_cast<std::uint32_t>(draw.seed), static_cast<std::uint32_t>(draw.seed >> 32)});
  seed_ = (std::uint64_t{words[0]} << 32) | words[1];
  // Names as the spec's table: each dotted prefix is a child module.
  auto& phi = register_module("phi", std::make_unique<ParameterGroup>());
  phi_kernel_ = &phi.add("kernel", p.phi_kernel);
  phi_bias_ = &phi.add("bias", p.phi_bias);
  auto& psi = register_module("psi", std::make_unique<ParameterGroup>());
  psi_kernel_ = &psi.add("kernel", p.psi_kernel);
  psi_bias_ = &psi.add("bias", p.psi_bias);
  auto& g = register_module("g", std::make_unique<ParameterGroup>());
  g_kernel_ = &g.add("kernel", p.g_kernel);
  g_bias_ = &g.add("bias", p.g_bias);
  auto& h = register_module("h", std::make_unique<ParameterGroup>());
  h_kernel_ = &h.add("kernel", p.h_kernel);
  h_bias_ = &h.add("bias", p.h_bias);
  if (options.decoder_ln) {
    auto& ln = register_module("decoder_ln", std::make_unique<ParameterGroup>());
    decoder_ln_scale_ = &ln.add("scale", p.decoder_ln_scale);
    decoder_ln_bias_ = &ln.add("bias", p.decoder_ln_bias);
  }
  auto& inner = register_module("inner", std::make_unique<nn::ModuleList>());
  const auto& w = p.inner.tensors;
  for (std::size_t layer = 0; layer < (options.learner == LearnerKind::linear ? 1u : 2u); ++layer) {
    auto& group = inner.append(std::make_unique<ParameterGroup>());
    inner_.push_back(&group.add("kernel", w[2 * layer]));
    if (options.learner == LearnerKind::mlp) inner_.push_back(&group.add("bias", w[2 * layer + 1]));
  }
  if (!options.train_w0) freeze("inner.*");
}

TTTParams TTTMixer::params() const {
  TTTParams p{*phi_kernel_, *phi_bias_, *psi_kernel_, *psi_bias_, *g_kernel_, *g_bias_, *h_kernel_, *h_bias_,
              decoder_ln_scale_ ? *decoder_ln_scale_ : Tensor(), decoder_ln_bias_ ? *decoder_ln_bias_ : Tensor(), {}};
  for (const Tensor* w : inner_) p.inner.tensors.push_back(*w);
  return p;
}

Tensor TTTMixer::permutation(std::int64_t tokens, Device device) {
  auto step = nn::RandomStep::current();
  std::uint64_t key = step ? mix(step->first, step->second) : own_steps_++;
  Generator generator(mix(seed_, key));
  // Drawn on the CPU whatever the device, so that a seed gives the same orders everywhere.
  return to(draw_permutation(options_.heads, tokens, generator), device);
}

Tensor TTTMixer::forward(const Tensor& y) {
  ForwardOptions f;
  if (options_.sgd) f.permutation = permutation(y.size(1), y.device());
  f.collect_inner_losses = collect_;
  TTTOutput out = ttt_forward(params(), options_, y, f);
  last_inner_losses_.clear();
  for (const Tensor& loss : out.inner_losses)  // (B, H): sum over heads, mean over the batch
    last_inner_losses_.push_back(sum(loss).item<double>() / static_cast<double>(loss.size(0)));
  return out.z;
}

std::string TTTMixer::describe() const {
  return fmt::format("TTT({}, D {}, H {}, T {}{}{})", to_string(options_.learner), width_, options_.heads,
                     options_.steps, options_.sgd ? ", SGD" : "", options_.decoder_ln ? ", decoder LN" : "");
}

namespace {

TTTOptions options_from(const nn::TokenMixerSpec& spec) {
  const bool mlp = spec.kind == "mttt_mlp";
  TTTOptions o = mlp ? TTTOptions::mttt_mlp(spec.heads) : TTTOptions::mttt_linear(spec.heads);
  const auto& j = spec.options;
  nn::check_option_keys(spec.kind, j, {"steps", "eta", "sgd", "decoder_ln", "train_w0", "init"});
  o.steps = j.value("steps", 1);
  if (j.contains("eta")) {
    if (j["eta"].is_array())
      o.eta = j["eta"].get<std::vector<double>>();
    else
      o.eta = std::vector<double>(static_cast<std::size_t>(o.steps), j["eta"].get<double>());
  }
  o.sgd = j.value("sgd", false);
  o.decoder_ln = j.value("decoder_ln", o.decoder_ln);
  o.train_w0 = j.value("train_w0", o.train_w0);
  const std::string init = j.value("init", std::string("fixed"));
  check(init == "fixed" || init == "paper", spec.kind, "init '{}': expected fixed or paper", init);
  o.init = init == "paper" ? InitScheme::paper : InitScheme::fixed;
  o.validate(spec.width);
  if (o.sgd && spec.tokens > 0)
    check(spec.tokens % o.steps == 0, spec.kind, "SGD splits N = {} tokens into T = {} equal chunks: N must be divisible by T",
          spec.tokens, o.steps);
  return o;
}

}  // namespace

void register_ttt_mixers() {
  for (const char* kind : {"mttt_linear", "mttt_mlp"})
    nn::register_token_mixer(kind, [](const nn::TokenMixerSpec& spec, Generator& generator) {
      return std::unique_ptr<nn::TokenMixer>(new TTTMixer(options_from(spec), spec.width, generator, spec.dtype));
    });
}

std::vector<std::pair<std::string, TTTMixer*>> ttt_layers(nn::Module& model) {
  std::vector<std::pair<std::string, TTTMixer*>> out;
  for (const auto& [name, module] : model.named_modules())
    if (auto* ttt = dynamic_cast<const TTTMixer*>(module)) out.emplace_back(name, const_cast<TTTMixer*>(ttt));
  return out;
}

}  // namespace mttt::ttt
