#include "mttt/ttt_options.hpp"

#include <cmath>

#include "nn/config_values.hpp"
#include "tensor/error.hpp"

namespace mttt::ttt {

namespace {
constexpr std::int64_t kMaxSteps = 1 << 16;
}

TTTOptions TTTOptions::mttt_linear(std::int64_t heads) {
  TTTOptions o;
  o.learner = LearnerKind::linear;
  o.heads = heads;
  o.decoder_ln = false;
  o.train_w0 = false;
  return o;
}

TTTOptions TTTOptions::mttt_mlp(std::int64_t heads, int steps, bool sgd) {
  TTTOptions o;
  o.heads = heads;
  o.steps = steps;
  o.sgd = sgd;
  return o;
}

const std::vector<std::string>& TTTOptions::config_keys() {
  static const std::vector<std::string> keys = {"steps", "eta", "sgd", "decoder_ln", "train_w0", "init"};
  return keys;
}

TTTOptions TTTOptions::from_config(const std::string& kind, const nlohmann::json& j, std::int64_t heads,
                                   std::int64_t width, std::int64_t tokens) {
  check(kind == "mttt_linear" || kind == "mttt_mlp", "ttt", "unknown TTT layer kind '{}'", kind);
  nn::check_keys(j, "model.layer (" + kind + ")", config_keys());
  TTTOptions o = kind == "mttt_mlp" ? mttt_mlp(heads) : mttt_linear(heads);
  auto key = [](const char* name) { return std::string("model.layer.") + name; };
  if (j.contains("steps")) o.steps = static_cast<int>(nn::read_integer(j["steps"], key("steps"), 1, kMaxSteps));
  if (j.contains("eta")) {
    const nn::NumberRange positive{.min = 0, .min_open = true};
    if (j["eta"].is_array()) {
      for (const auto& v : j["eta"]) o.eta.push_back(nn::read_number(v, key("eta") + "[]", positive));
      check(static_cast<int>(o.eta.size()) == o.steps, "config", "{} has {} values for model.layer.steps = {}",
            key("eta"), o.eta.size(), o.steps);
    } else {
      o.eta.assign(static_cast<std::size_t>(o.steps),
                   nn::read_number(j["eta"], key("eta") + " (a number or a list of one per step)", positive));
    }
  }
  if (j.contains("sgd")) o.sgd = nn::read_bool(j["sgd"], key("sgd"));
  if (j.contains("decoder_ln")) o.decoder_ln = nn::read_bool(j["decoder_ln"], key("decoder_ln"));
  if (j.contains("train_w0")) o.train_w0 = nn::read_bool(j["train_w0"], key("train_w0"));
  if (j.contains("init"))
    o.init = nn::read_choice(j["init"], key("init"), {"fixed", "paper"}) == "paper" ? InitScheme::paper : InitScheme::fixed;
  o.validate(width, tokens);
  return o;
}

void TTTOptions::validate(std::int64_t width, std::int64_t tokens) const {
  check(heads >= 1 && width % heads == 0, "ttt", "width {} is not divisible by {} heads", width, heads);
  check(steps >= 1, "ttt", "the inner loop needs at least one step, got T = {}", steps);
  check(eta.empty() || static_cast<int>(eta.size()) == steps, "ttt", "{} values of eta for T = {} steps", eta.size(),
        steps);
  for (double e : eta) check(std::isfinite(e), "ttt", "eta {} is not a finite number", e);
  check(!sgd || tokens <= 0 || tokens % steps == 0, "ttt",
        "SGD splits N = {} tokens into T = {} equal chunks: N must be divisible by T", tokens, steps);
}

}  // namespace mttt::ttt
