// `mttt layer` against the layer test vectors (tests/data/vectors, made by the project's PyTorch
// reference of docs/mttt-layer.md: tests/vectors/make_vectors.py make tests/data/vectors --seed 1):
// outputs and every gradient, float64 and float32; then the command's refusals of bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "nn/checkpoint/safetensors.hpp"
#include "tensor/tensor.hpp"
#include "tests/support.hpp"

using namespace mttt;
namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  REQUIRE(v != nullptr);
  return v;
}

std::pair<int, std::string> run(const std::string& command) { return test::run_command(command); }

std::string layer_command(const std::string& base) {
  auto params = nn::load_safetensors(base + ".params.safetensors");
  auto cli = nlohmann::json::parse(params.metadata.at("cli"));
  auto config = nlohmann::json::parse(params.metadata.at("config"));
  std::string kind = cli["kind"];
  std::string command = fmt::format("{} layer {} --heads {}", env("MTTT_EXE"), kind, config["H"].get<int>());
  if (kind.rfind("mttt", 0) == 0) {
    std::vector<std::string> eta;
    for (double e : cli["eta"]) eta.push_back(fmt::format("{}", e));
    command += fmt::format(" --steps {} --eta {} --decoder-ln {}", cli["steps"].get<int>(), fmt::join(eta, ","),
                           cli["decoder_ln"].get<bool>() ? "on" : "off");
    if (cli["sgd"].get<bool>()) command += " --sgd --perm " + base + ".perm.safetensors";
  }
  return command + fmt::format(" --params {0}.params.safetensors --input {0}.input.safetensors", base);
}

double max_abs(const Tensor& t) { return max(abs(cast(t, DType::float64))).item<double>(); }

}  // namespace

TEST_CASE("mttt layer reproduces the PyTorch reference's vectors, outputs and gradients") {
  const std::string dir = env("MTTT_VECTORS");
  const std::string out = (fs::temp_directory_path() / fmt::format("mttt_layer_{}.safetensors", ::getpid())).string();
  int cases = 0;
  for (const char* kind : {"self_attention", "linear_attention", "linear_attention_elu", "mttt_linear", "mttt_linear_t2",
                           "mttt_mlp_t1", "mttt_mlp_t4", "mttt_mlp_t4_sgd", "mttt_mlp_t1_noln_fixw0"}) {
    for (const char* dtype : {"f64", "f32"}) {
      const std::string base = fmt::format("{}/{}.{}", dir, kind, dtype);
      CAPTURE(kind, dtype);
      auto [status, output] = run(layer_command(base) + fmt::format(" --cotangent {}.cotangent.safetensors --out {}", base, out));
      INFO(output);
      REQUIRE(status == 0);
      auto mine = nn::load_safetensors(out);
      auto expected = nn::load_safetensors(base + ".expected.safetensors");
      // Relative to each tensor's largest value, and for tensors that are zero in exact
      // arithmetic (the key-bias gradient of softmax attention) to 1e-3 of the case's largest.
      double scale = 0;
      for (const auto& [name, t] : expected.tensors)
        if (name == "z" || name.rfind("grad.", 0) == 0) scale = std::max(scale, max_abs(t));
      const double tolerance = std::string(dtype) == "f64" ? 1e-10 : 1e-4;
      for (const auto& [name, t] : expected.tensors) {
        if (name != "z" && name.rfind("grad.", 0) != 0) continue;
        CAPTURE(name);
        REQUIRE(mine.contains(name));
        double error = max_abs(mine.at(name) - t) / std::max(max_abs(t), 1e-3 * scale);
        CHECK(error < tolerance);
      }
      ++cases;
    }
  }
  CHECK(cases == 18);
}

TEST_CASE("mttt layer refuses bad input, naming the problem") {
  const std::string dir = env("MTTT_VECTORS");
  const std::string out = (fs::temp_directory_path() / fmt::format("mttt_layer_bad_{}.safetensors", ::getpid())).string();
  auto expect_error = [&](const std::string& command, const std::string& message) {
    auto [status, output] = run(command + " --out " + out);
    INFO(command << "\n" << output);
    CHECK(status != 0);
    CHECK_THAT(output, Catch::Contains(message));
  };
  const std::string mlp = dir + "/mttt_mlp_t4.f64", attention = dir + "/self_attention.f64";
  const std::string exe = env("MTTT_EXE");
  auto files = [](const std::string& params, const std::string& input) {
    return fmt::format(" --params {}.params.safetensors --input {}.input.safetensors", params, input);
  };
  expect_error(exe + " layer mttt_mlp --heads 3 --steps 4 --eta 1,1" + files(mlp, mlp), "2 values of eta for T = 4 steps");
  expect_error(exe + " layer mttt_mlp --heads 4 --steps 4" + files(mlp, mlp), "H = 4");
  expect_error(exe + " layer mttt_mlp --heads 3 --steps 3 --sgd" + files(mlp, mlp), "divisible by T");
  expect_error(exe + " layer mttt_mlp --heads 3" + files(attention, mlp), "missing");
  expect_error(exe + " layer mttt_linear --heads 3" + files(mlp, mlp), "unexpected parameter");
  expect_error(exe + " layer self_attention --heads 3 --steps 2" + files(attention, attention), "no inner loop");
  expect_error(exe + " layer mttt_mlp --heads 3 --steps 4" + files(dir + "/mttt_mlp_t4.f32", mlp), "share a dtype");
  expect_error(exe + " layer softmax --heads 3" + files(attention, attention), "unknown kind 'softmax'");
}
