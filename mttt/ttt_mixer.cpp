#include "mttt/ttt_mixer.hpp"

#include <fmt/format.h>

#include "nn/random_step.hpp"
#include "tensor/graph.hpp"

namespace mttt::ttt {

namespace {

// A child module that names parameters whose slots its parent holds: "phi" registers
// "kernel" and "bias", so that the layer's tensors read "phi.kernel" as in the spec.
class ParameterGroup final : public nn::Module {
 public:
  void add(const std::string& name, Tensor& slot) { register_parameter(name, slot, slot); }
  ParameterGroup& group(const std::string& name) {
    for (auto& [n, g] : groups_)
      if (n == name) return *g;
    return *groups_.emplace_back(name, &register_module(name, std::make_unique<ParameterGroup>())).second;
  }
  std::string describe() const override { return "Parameters"; }

 private:
  std::vector<std::pair<std::string, ParameterGroup*>> groups_;
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
  params_ = std::move(p);
  std::vector<std::pair<std::string, ParameterGroup*>> roots;
  auto root = [&](const std::string& name) -> ParameterGroup& {
    for (auto& [n, g] : roots)
      if (n == name) return *g;
    return *roots.emplace_back(name, &register_module(name, std::make_unique<ParameterGroup>())).second;
  };
  for (const TTTParamRow* row : ttt_param_rows(options_)) {
    const std::string name = row->name;
    const auto first = name.find('.');
    ParameterGroup* group = &root(name.substr(0, first));
    std::size_t start = first + 1;
    for (auto dot = name.find('.', start); dot != std::string::npos; start = dot + 1, dot = name.find('.', start))
      group = &group->group(name.substr(start, dot - start));
    group->add(name.substr(start), row->slot(params_));
  }
  if (!options_.train_w0) freeze("inner.*");
}

Tensor TTTMixer::permutation(std::int64_t tokens, Device device) {
  // Drawn on the CPU whatever the device, so that a seed gives the same orders everywhere; a
  // captured training step (tensor/graph.hpp) draws them again before each replay.
  return host_input(device, [this, tokens] {
    auto step = nn::RandomStep::current();
    std::uint64_t key = step ? mix(step->first, step->second) : own_steps_++;
    Generator generator(mix(seed_, key));
    return draw_permutation(options_.heads, tokens, generator);
  });
}

Tensor TTTMixer::forward(const Tensor& y) {
  ForwardOptions f;
  if (options_.sgd) f.permutation = permutation(y.size(1), y.device());
  f.collect_inner_losses = collect_;
  TTTOutput out = ttt_forward(params_, options_, y, f);
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

}  // namespace

void register_ttt_mixers() {
  for (const char* kind : {"mttt_linear", "mttt_mlp"})
    nn::register_token_mixer(kind, [](const nn::TokenMixerSpec& spec, Generator& generator) {
      TTTOptions o = TTTOptions::from_config(spec.kind, spec.options, spec.heads, spec.width, spec.tokens);
      return std::unique_ptr<nn::TokenMixer>(new TTTMixer(o, spec.width, generator, spec.dtype));
    });
}

}  // namespace mttt::ttt
