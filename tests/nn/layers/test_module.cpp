// Module: names, frozen sets, counts, loading, and functional application.
#include <catch2/catch.hpp>

#include "nn/functional.hpp"
#include "nn/layers/mlp.hpp"
#include "tests/nn/layers/helpers.hpp"

using namespace mttt;
using namespace mttt::nn;
using test::max_abs_diff;

namespace {

// A two-level module with a parameter, a buffer and children, registered in that order.
class Toy : public Module {
 public:
  explicit Toy(Generator& gen) {
    register_parameter("scale", scale_, ones({3}, {DType::float64}));
    register_buffer("offset", offset_, full({3}, 0.5, {DType::float64}));
    mlp_ = &register_module("mlp", std::make_unique<Mlp>(3, 4, gen, DType::float64));
  }
  Tensor forward(const Tensor& x) const { return mlp_->forward(x * scale_ + offset_); }
  void register_again(const std::string& name) { register_parameter(name, extra_, zeros({1})); }

 private:
  Tensor scale_, offset_, extra_;
  Mlp* mlp_;
};

std::vector<std::string> names_of(const NamedTensors& t) {
  std::vector<std::string> out;
  for (const auto& [n, v] : t) out.push_back(n);
  return out;
}

}  // namespace

TEST_CASE("parameters and buffers are named by dotted paths in registration order") {
  Generator gen(1);
  Toy toy(gen);
  CHECK(names_of(toy.named_parameters()) ==
        std::vector<std::string>{"scale", "mlp.fc1.kernel", "mlp.fc1.bias", "mlp.fc2.kernel", "mlp.fc2.bias"});
  CHECK(names_of(toy.named_buffers()) == std::vector<std::string>{"offset"});
  CHECK(names_of(toy.direct_parameters()) == std::vector<std::string>{"scale"});
  CHECK(names_of(toy.direct_buffers()) == std::vector<std::string>{"offset"});
  CHECK(names_of(toy.submodule("mlp").direct_parameters()).empty());
  auto members = toy.members();
  REQUIRE(members.size() == 3);
  CHECK((members[0].name == "scale" && !members[0].is_buffer && members[0].module == nullptr));
  CHECK((members[1].name == "offset" && members[1].is_buffer));
  CHECK((members[2].name == "mlp" && members[2].module != nullptr && !members[2].tensor.defined()));
  CHECK(toy.tensor("mlp.fc1.kernel").shape() == Shape{3, 4});
  CHECK(toy.tensor("mlp.fc2.bias").shape() == Shape{3});
  CHECK(toy.tensor("mlp.fc1.kernel").requires_grad());
  CHECK_FALSE(toy.tensor("offset").requires_grad());
  CHECK(toy.contains("offset"));
  CHECK_FALSE(toy.contains("mlp.fc3.kernel"));
  REQUIRE_THROWS_WITH(toy.tensor("mlp.fc3.kernel"),
                      Catch::Contains("no parameter or buffer 'mlp.fc3.kernel'") && Catch::Contains("mlp.fc1.kernel"));
  auto modules = toy.named_modules();
  REQUIRE(modules.size() == 4);
  CHECK(modules[0].first == "");
  CHECK(modules[1].first == "mlp");
  CHECK(modules[3].first == "mlp.fc2");
  CHECK(toy.submodule("mlp.fc1").describe() == "Linear(3 -> 4)");
  REQUIRE_THROWS_WITH(toy.submodule("mlp.fc9"), Catch::Contains("no submodule 'mlp.fc9'"));
  REQUIRE_THROWS_WITH(toy.register_again("scale"), Catch::Contains("'scale' is registered twice"));
  REQUIRE_THROWS_WITH(toy.register_again("a.b"), Catch::Contains("contain no '.'"));
}

TEST_CASE("freezing by glob pattern turns gradients off and is counted apart") {
  Generator gen(1);
  Toy toy(gen);
  ParameterCount all = toy.count_parameters();
  CHECK(all.total == 3 + 3 * 4 + 4 + 4 * 3 + 3);
  CHECK(all.frozen == 0);
  CHECK(toy.freeze("mlp.*.kernel") == 2);
  CHECK(toy.freeze("nothing.*") == 0);
  CHECK(toy.is_frozen("mlp.fc1.kernel"));
  CHECK_FALSE(toy.is_frozen("mlp.fc1.bias"));
  CHECK_FALSE(toy.tensor("mlp.fc2.kernel").requires_grad());
  CHECK(toy.frozen_names() == std::vector<std::string>{"mlp.fc1.kernel", "mlp.fc2.kernel"});
  ParameterCount c = toy.count_parameters();
  CHECK(c.total == all.total);
  CHECK(c.frozen == 24);
  CHECK(c.trainable == all.total - 24);
  CHECK(names_of(toy.named_trainable_parameters()) ==
        std::vector<std::string>{"scale", "mlp.fc1.bias", "mlp.fc2.bias"});
  // A frozen kernel takes no gradient; the others still do.
  Tensor x = normal({2, 3}, 0, 1, {DType::float64}, &gen);
  Tensor loss = sum(toy.forward(x));
  CHECK(grad(loss, toy.tensor("mlp.fc1.bias")).defined());
  CHECK(toy.unfreeze("*") == 5);
  CHECK(toy.tensor("mlp.fc2.kernel").requires_grad());
  CHECK(toy.count_parameters().frozen == 0);
}

TEST_CASE("load_tensors copies values by name and checks names and shapes") {
  Generator gen(1);
  Toy a(gen), b(gen);
  REQUIRE(max_abs_diff(a.tensor("mlp.fc1.kernel"), b.tensor("mlp.fc1.kernel")) > 0);
  b.load_tensors(a.named_parameters());
  for (const auto& [name, t] : a.named_parameters()) CHECK(max_abs_diff(t, b.tensor(name)) == 0);
  CHECK_FALSE(a.tensor("mlp.fc1.kernel").is_same(b.tensor("mlp.fc1.kernel")));  // copies, not shared
  REQUIRE_THROWS_WITH(b.load_tensors({{"scale", zeros({4}, {DType::float64})}}, {.strict = false}),
                      Catch::Contains("'scale' has shape (4,), expected (3,)"));
  REQUIRE_THROWS_WITH(b.load_tensors({{"scale", zeros({3}, {DType::float64})}}),
                      Catch::Contains("parameter 'mlp.fc1.kernel'") && Catch::Contains("missing"));
  REQUIRE_THROWS_WITH(b.load_tensors({{"bogus", zeros({3})}}), Catch::Contains("unexpected tensor 'bogus'"));
}

TEST_CASE("functional application agrees with the normal forward and restores the module") {
  Generator gen(2);
  Toy toy(gen);
  Tensor x = normal({4, 3}, 0, 1, {DType::float64}, &gen);
  Tensor own = toy.forward(x);
  NamedTensors same;
  for (const auto& [name, t] : toy.named_parameters()) same.emplace_back(name, t.detach() * 1.0);
  CHECK(max_abs_diff(functional_call(toy, same, x), own) < 1e-15);

  // Other values: the result is the MLP computed by hand with them.
  Tensor w1 = normal({3, 4}, 0, 1, {DType::float64}, &gen), b2 = normal({3}, 0, 1, {DType::float64}, &gen);
  const Tensor kernel_before = toy.tensor("mlp.fc1.kernel");
  Tensor y =
      functional_call(toy, {{"mlp.fc1.kernel", w1}, {"mlp.fc2.bias", b2}, {"offset", zeros({3}, {DType::float64})}}, x);
  Tensor h = gelu(matmul(x * toy.tensor("scale"), w1) + toy.tensor("mlp.fc1.bias"));
  Tensor expected = matmul(h, toy.tensor("mlp.fc2.kernel")) + b2;
  CHECK(max_abs_diff(y, expected) < 1e-12);
  CHECK(toy.tensor("mlp.fc1.kernel").is_same(kernel_before));  // restored
  CHECK(max_abs_diff(toy.forward(x), own) == 0);
}

TEST_CASE("gradients flow to the substituted tensors, to second order") {
  Generator gen(3);
  Toy toy(gen);
  Tensor x = normal({4, 3}, 0, 1, {DType::float64}, &gen);
  auto f = [&](const std::vector<Tensor>& p) {
    return functional_call(toy, {{"mlp.fc1.kernel", p[0]}, {"mlp.fc2.bias", p[1]}, {"scale", p[2]}}, x);
  };
  std::vector<Tensor> p = {normal({3, 4}, 0, 1, {DType::float64}, &gen), normal({3}, 0, 1, {DType::float64}, &gen),
                           normal({3}, 0, 1, {DType::float64}, &gen)};
  auto r1 = gradcheck(f, p);
  CHECK(r1.ok);
  INFO(r1.message);
  auto r2 = gradcheck(f, p, {.order = 2});
  INFO(r2.message);
  CHECK(r2.ok);
  // And the module's own parameters receive nothing from a substituted forward.
  Tensor w = p[0].detach().requires_grad_();
  Tensor loss = sum(functional_call(toy, {{"mlp.fc1.kernel", w}}, x));
  auto g = grad({loss}, {w, toy.tensor("mlp.fc1.kernel")}, {}, {.allow_unused = true});
  CHECK(test::max_abs(g[0]) > 0);
  CHECK(test::max_abs(g[1]) == 0);  // allow_unused: a zero gradient
}

TEST_CASE("functional application rejects unknown names, wrong shapes and dtypes, and restores on errors") {
  Generator gen(4);
  Toy toy(gen);
  const Tensor scale = toy.tensor("scale");
  Tensor ok = zeros({3}, {DType::float64});
  REQUIRE_THROWS_WITH(Substitution(toy, {{"scale", ok}, {"mlp.fc1.weight", ok}}),
                      Catch::Contains("no parameter or buffer 'mlp.fc1.weight'") && Catch::Contains("mlp.fc1.kernel"));
  CHECK(toy.tensor("scale").is_same(scale));
  REQUIRE_THROWS_WITH(Substitution(toy, {{"scale", zeros({4}, {DType::float64})}}),
                      Catch::Contains("'scale' is given with shape (4,), expected (3,)"));
  REQUIRE_THROWS_WITH(Substitution(toy, {{"scale", zeros({3})}}),
                      Catch::Contains("given as float32, expected float64"));
  REQUIRE_THROWS_WITH(Substitution(toy, {{"scale", ok}}, {.require_all = true}),
                      Catch::Contains("'mlp.fc1.kernel' is not given"));
  { Substitution loose(toy, {{"scale", zeros({2, 3}, {DType::float64})}}, {.check_shapes = false}); }
  CHECK(toy.tensor("scale").is_same(scale));
  {
    Substitution outer(toy, {{"scale", ok}});
    Substitution inner(toy, {{"scale", ones({3}, {DType::float64}) * 2.0}});
    CHECK(toy.tensor("scale").to_vector<double>()[0] == 2.0);
  }
  CHECK(toy.tensor("scale").is_same(scale));
}

TEST_CASE("thousands separators") {
  CHECK(with_thousands(5569576) == "5,569,576");
  CHECK(with_thousands(591360) == "591,360");
  CHECK(with_thousands(0) == "0");
  CHECK(with_thousands(999) == "999");
  CHECK(with_thousands(-1000) == "-1,000");
}
