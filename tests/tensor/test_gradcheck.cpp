// gradcheck itself: the fast mode (w^T J v along random directions) agrees with the full mode
// (every element) on correct rules at orders 1 and 2, with broadcast and strided inputs; both
// fail on a deliberately broken rule; the fast mode's cost does not grow with the inputs' size;
// both run on the inputs' device.
#include "helpers.hpp"

#include "tensor/autograd.hpp"

using namespace mttt;
using test::rnd;

namespace {

// sin, with a backward rule that is off by `factor` (first order) or that detaches cos(x), so
// that its first derivative is right and its second derivative is missing (the MAML bug).
enum class Plant { none, wrong_first_order, detached_second_order };

Tensor planted_sin(const Tensor& x, Plant plant) {
  Tensor out;
  {
    NoGrad off;
    out = sin(x);
  }
  return record("planted_sin", out, {x}, [x, plant](const Tensor& g, NeedsGrad) {
    switch (plant) {
      case Plant::wrong_first_order: return Grads{g * cos(x) * 1.01};
      case Plant::detached_second_order: return Grads{g * cos(x).detach()};
      default: return Grads{g * cos(x)};
    }
  });
}

struct Case {
  const char* name;
  TensorFunction f;
  std::vector<Tensor> inputs;
};

std::vector<Case> correct_cases() {
  Tensor wide = rnd({4, 6}, -1, 1, 3);
  return {
      {"matmul with a broadcast bias",
       [](const std::vector<Tensor>& x) { return tanh(matmul(x[0], x[1]) + x[2]); },
       {rnd({3, 4}, -1, 1, 1), rnd({4, 5}, -1, 1, 2), rnd({5}, -1, 1, 4)}},
      {"softmax of a strided (transposed) input",
       [](const std::vector<Tensor>& x) { return softmax(x[0], -1) * x[1]; },
       {transpose(wide), rnd({6, 4}, -1, 1, 5)}},
      {"layer norm of a column slice", [](const std::vector<Tensor>& x) { return layer_norm(x[0], x[1], x[2]); },
       {slice(wide, 1, 0, 3), rnd({3}, -1, 1, 6), rnd({3}, -1, 1, 7)}},
      {"mean of exp times a broadcast row",
       [](const std::vector<Tensor>& x) { return mean(exp(x[0]) * x[1], {0}); },
       {rnd({5, 3}, -1, 1, 8), rnd({1, 3}, -1, 1, 9)}},
  };
}

GradcheckResult run(const Case& c, int order, bool fast) {
  return gradcheck(c.f, c.inputs, {.order = order, .fast = fast});
}

}  // namespace

TEST_CASE("gradcheck: the fast mode passes wherever the full mode does, orders 1 and 2") {
  for (const Case& c : correct_cases())
    for (int order : {1, 2}) {
      GradcheckResult full = run(c, order, false), fast = run(c, order, true);
      INFO(c.name << ", order " << order << ": full " << full.message << " / fast " << fast.message);
      CHECK(full.ok);
      CHECK(fast.ok);
      // w^T J v sums over the elements that the full mode compares one by one: its values are
      // larger, its errors remain rounding.
      CHECK(fast.max_abs_numeric > 0);
      CHECK(fast.max_rel_error < 1e-6);
    }
}

TEST_CASE("gradcheck: a wrong first-order rule fails both modes") {
  TensorFunction f = [](const std::vector<Tensor>& x) { return planted_sin(x[0], Plant::wrong_first_order) * x[1]; };
  std::vector<Tensor> inputs = {rnd({4, 3}, -1, 1, 1), rnd({4, 3}, -1, 1, 2)};
  for (bool fast : {false, true}) {
    GradcheckResult r = gradcheck(f, inputs, {.fast = fast});
    INFO((fast ? "fast" : "full") << ": " << r.message);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.message, Catch::Matchers::Contains("input 0"));
  }
  // The correct rule passes the same checks: the failure is the planted factor.
  TensorFunction right = [](const std::vector<Tensor>& x) { return planted_sin(x[0], Plant::none) * x[1]; };
  for (bool fast : {false, true}) CHECK(gradcheck(right, inputs, {.order = 2, .fast = fast}).ok);
}

TEST_CASE("gradcheck: a rule that detaches its second derivative passes order 1 and fails order 2 in both modes") {
  TensorFunction f = [](const std::vector<Tensor>& x) { return planted_sin(x[0], Plant::detached_second_order); };
  std::vector<Tensor> inputs = {rnd({3, 5}, -1, 1, 4)};
  for (bool fast : {false, true}) {
    INFO((fast ? "fast" : "full"));
    CHECK(gradcheck(f, inputs, {.order = 1, .fast = fast}).ok);
    GradcheckResult second = gradcheck(f, inputs, {.order = 2, .fast = fast});
    INFO(second.message);
    CHECK_FALSE(second.ok);
    CHECK_THAT(second.message, Catch::Matchers::Contains("order 2") && Catch::Matchers::Contains("input 0"));
  }
}

TEST_CASE("gradcheck: the fast mode's evaluations do not grow with the inputs' size") {
  TensorFunction f = [](const std::vector<Tensor>& x) { return tanh(matmul(x[0], x[1])); };
  for (std::int64_t n : {4, 64}) {
    std::vector<Tensor> inputs = {rnd({n, n}, -1, 1, 1), rnd({n, n}, -1, 1, 2)};
    GradcheckResult fast = gradcheck(f, inputs, {.order = 2, .fast = true, .directions = 3});
    INFO("n = " << n << ": " << fast.message);
    CHECK(fast.ok);
    // Two evaluations per input and direction; the second order adds the projection as an input.
    CHECK(fast.evaluations == 2 * 3 * 3);
    CHECK(fast.rounding > 0);
    CHECK(fast.max_abs_error < 1e3 * fast.rounding + 1e-12);
  }
  GradcheckResult full = gradcheck(f, {rnd({4, 4}, -1, 1, 1), rnd({4, 4}, -1, 1, 2)});
  CHECK(full.evaluations == 2 * 32);
}

TEST_CASE("gradcheck: bad options are errors naming gradcheck") {
  TensorFunction f = [](const std::vector<Tensor>& x) { return x[0]; };
  std::vector<Tensor> inputs = {rnd({2})};
  CHECK_THROWS_WITH(gradcheck(f, inputs, {.fast = true, .directions = 0}),
                    Catch::Matchers::Contains("[gradcheck]") && Catch::Matchers::Contains("directions"));
  CHECK_THROWS_WITH(gradcheck(f, inputs, {.eps = 0}),
                    Catch::Matchers::Contains("[gradcheck]") && Catch::Matchers::Contains("eps"));
}

TEST_CASE("gradcheck: both modes run on the inputs' device (thrust-host)") {
  const Device host{DeviceType::thrust_host, 0};
  TensorFunction f = [](const std::vector<Tensor>& x) { return softmax(matmul(x[0], x[1]), -1) * x[2]; };
  std::vector<Tensor> inputs = {to(rnd({3, 4}, -1, 1, 1), host), to(rnd({4, 5}, -1, 1, 2), host),
                                to(rnd({5}, -1, 1, 3), host)};
  for (bool fast : {false, true}) {
    GradcheckResult r = gradcheck(f, inputs, {.order = 2, .fast = fast});
    INFO((fast ? "fast" : "full") << ": " << r.message);
    CHECK(r.ok);
  }
  TensorFunction broken = [](const std::vector<Tensor>& x) { return planted_sin(x[0], Plant::wrong_first_order); };
  CHECK_FALSE(gradcheck(broken, {to(rnd({4}, -1, 1, 4), host)}, {.fast = true}).ok);
}
