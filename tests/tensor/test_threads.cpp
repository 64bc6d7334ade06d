// Results do not depend on the thread count: reductions, softmax, layer_norm, elementwise
// programs, scatters and (in deterministic mode) matmul give bit-identical values and gradients
// with one thread and with two, on inputs large enough to take the parallel paths.
#include "helpers.hpp"

using namespace mttt;
using namespace test;

namespace {

// Runs f with 1 and with 2 threads and requires bit-identical outputs.
void check_thread_independent(const std::function<std::vector<Tensor>()>& f) {
  const int threads = num_threads();
  set_num_threads(1);
  std::vector<Tensor> one = f();
  set_num_threads(2);
  std::vector<Tensor> two = f();
  set_num_threads(threads);
  REQUIRE(one.size() == two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("output " << i);
    REQUIRE(one[i].shape() == two[i].shape());
    CHECK(one[i].to_vector<double>() == two[i].to_vector<double>());
  }
}

}  // namespace

TEST_CASE("reductions are bit-identical for any thread count") {
  for (DType dtype : {DType::float32, DType::float64}) {
    INFO("dtype " << to_string(dtype));
    Tensor x = cast(rnd({300, 200}, -1, 1, 1), dtype);
    Tensor x3 = cast(rnd({40, 50, 30}, -1, 1, 2), dtype);
    Tensor bias_grad = cast(rnd({8, 3, 196, 64}, -1, 1, 3), dtype);  // (B, H, N, d): few columns, many rows
    check_thread_independent([&] {
      return std::vector<Tensor>{sum(x),          sum(x, {0}),       sum(x, {1}),       mean(transpose(x), {1}),
                                 sum(x3, {0, 2}), sum(x3, {1}),      var(x3, {-1}),     max(x, {0}),
                                 min(x3, {1, 2}), logsumexp(x, {1}), argmax(x3, 1),     sum(bias_grad, {0, 2}),
                                 sum(bias_grad, {0, 1, 2}), argmax(x, 0)};
    });
  }
}

TEST_CASE("softmax, layer_norm and elementwise programs are bit-identical for any thread count") {
  Tensor x = rnd({300, 200}, -3, 3, 3);
  Tensor scale = rnd({200}, 0.5, 1.5, 4), bias = rnd({200}, -1, 1, 5);
  check_thread_independent([&] {
    return std::vector<Tensor>{softmax(x), softmax(x, 0), log_softmax(transpose(x), -1), layer_norm(x, scale, bias),
                               fuse([](Expr a, Expr b) { return gelu(a * b) + tanh(a); }, x, scale)};
  });
}

TEST_CASE("gradients, scatters included, are bit-identical for any thread count") {
  Tensor x0 = rnd({300, 200}, -1, 1, 6);
  Generator gen(7);
  // Repeated indices: index_select's backward adds many rows into the same place.
  Tensor rows = cast(uniform({500}, 0, 300, {DType::float64}, &gen), DType::int64);
  check_thread_independent([&] {
    Tensor x = x0.detach().requires_grad_();
    Tensor y = sum(softmax(index_select(x, 0, rows)) * layer_norm(index_select(x, 0, rows), Tensor(), Tensor()));
    Tensor g = grad(y, x, {.create_graph = true});
    Tensor hv = grad(sum(g * x0), x);
    return std::vector<Tensor>{g.detach(), hv};
  });
}

TEST_CASE("matmul in deterministic mode is bit-identical for any thread count") {
  const bool was = deterministic();
  set_deterministic(true);
  Tensor a = rnd({2, 96, 130}, -1, 1, 8), b = rnd({130, 120}, -1, 1, 9);
  Tensor a32 = cast(a, DType::float32), b32 = cast(b, DType::float32);
  check_thread_independent([&] {
    return std::vector<Tensor>{matmul(a, b), matmul(a32, b32), matmul(transpose(b), transpose(select(a, 0, 1)))};
  });
  set_deterministic(was);
}
