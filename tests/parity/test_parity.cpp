// Parity of the thrust-host backend (the CUDA backend's Thrust code compiled for the CPU) with
// the CPU backend: every kernel of the Backend interface, through the ops that use it, on
// broadcast and strided inputs, float32, float64 and int64; and gradients of first and second
// order computed entirely on thrust-host. Values agree to rounding (the backends' exp, tanh, ...
// and summation orders differ in the last bits), random numbers exactly (normal() on CUDA to
// a stated ulp bound: normal_tolerance). The device under test
// is thrust-host unless MTTT_PARITY_DEVICE names another (cuda on a GPU machine).
#include "tests/parity/parity_check.hpp"

using namespace mttt;
using namespace mttt::parity;

namespace {

// normal() is Box-Muller on the same Philox bits everywhere, but through each platform's libm:
// CUDA's log (1 ulp) and cos (2 ulps) are not glibc's (< 1 ulp each), so on a GPU the float64
// numbers differ by a few ulps (4.4e-16 seen on an H200; bound here 8 ulps, 2^-49) and a float32
// number, the float64 one rounded, by at most one float ulp (2^-22 relative to the largest
// magnitude, as check_same measures). thrust-host uses glibc: exactly equal. docs/backends.md.
double normal_tolerance(DType dtype) {
  if (kThrust.type != DeviceType::cuda) return 0;
  return dtype == DType::float32 ? 0x1.0p-22 : 0x1.0p-49;
}

}  // namespace

TEST_CASE("parity: moving tensors and random numbers") {
  Tensor x = rnd({3, 4}, DType::float64, 1);
  check_same(on(x), x, 0);
  check_same(on(transpose(x)), transpose(x), 0);
  CHECK(to(on(x), kCPU).to_vector<double>() == x.to_vector<double>());
  for (DType dtype : {DType::float32, DType::float64}) {
    Generator a(7), b(7);
    check_same(uniform({1000}, -2, 3, {dtype, kThrust}, &a), uniform({1000}, -2, 3, {dtype}, &b), 0);
    check_same(normal({1000}, 1, 2, {dtype, kThrust}, &a), normal({1000}, 1, 2, {dtype}, &b), normal_tolerance(dtype));
  }
  check_same(arange(0, 10, 0.5, {DType::float64, kThrust}), arange(0, 10, 0.5, {DType::float64}), 0);
  check_same(full({2, 3}, 4.5, {DType::float32, kThrust}), full({2, 3}, 4.5, {DType::float32}), 0);
  check_same(cast(on(x), DType::float32), cast(x, DType::float32), 0);
  check_same(cast(on(x * 10), DType::int64), cast(x * 10, DType::int64), 0);
}

TEST_CASE("parity: elementwise ops and fused programs, broadcast and strided") {
  for (DType dtype : {DType::float32, DType::float64}) {
    INFO("dtype " << to_string(dtype));
    const double tol = tolerance_of(dtype);
    Tensor a = rnd({4, 1, 5}, dtype, 2), b = rnd({3, 5}, dtype, 3), p = rnd({4, 3, 5}, dtype, 4, 0.5, 2);
    using V = const std::vector<Tensor>&;
    check_op([](V v) { return v[0] + v[1]; }, {a, b}, tol);
    check_op([](V v) { return v[0] * v[1] - v[0] / v[2]; }, {a, b, p}, tol);
    check_op([](V v) { return pow(v[2], v[1]); }, {a, b, p}, tol);
    check_op([](V v) { return maximum(v[0], v[1]) + minimum(v[0], v[1]); }, {a, b}, tol);
    check_op([](V v) { return where(gt(v[0], v[1]), v[0], v[1]); }, {a, b}, tol);
    check_op([](V v) { return exp(v[0]) + log(v[1]) + sqrt(v[1]) + rsqrt(v[1]) + tanh(v[0]) + sigmoid(v[0]); }, {a, p},
             tol);
    check_op([](V v) { return relu(v[0]) + elu(v[0]) + gelu(v[0]) + gelu_erf(v[0]) + abs(v[0]) + clamp(v[0], -0.5, 0.5); },
             {a}, tol);
    check_op([](V v) { return transpose(v[0], 0, 2) * 2.0 + 1.0; }, {p}, tol);
    check_op([](V v) {
      return fuse([](Expr x, Expr y, Expr z) { return gelu(x * y + z) * tanh(z) - square(x); }, v[0], v[1], v[2]);
    }, {a, b, p}, tol);
  }
  Tensor i = cast(rnd({4, 5}, DType::float64, 5, -20, 20), DType::int64), j = cast(rnd({5}, DType::float64, 6, 1, 9), DType::int64);
  check_op([](const std::vector<Tensor>& v) { return v[0] * v[1] + v[0] - v[1]; }, {i, j}, 0);
}

TEST_CASE("parity: reductions, softmax, layer norm, matmul") {
  for (DType dtype : {DType::float32, DType::float64}) {
    INFO("dtype " << to_string(dtype));
    const double tol = 10 * tolerance_of(dtype);
    Tensor x = rnd({6, 7, 8}, dtype, 8);
    using V = const std::vector<Tensor>&;
    check_op([](V v) { return sum(v[0]); }, {x}, tol);
    check_op([](V v) { return sum(v[0], {0, 2}, true); }, {x}, tol);
    check_op([](V v) { return mean(transpose(v[0], 0, 1), {1}); }, {x}, tol);
    check_op([](V v) { return max(v[0], {1}) - squeeze(min(v[0], {1}, true), 1); }, {x}, tol);
    check_op([](V v) { return var(v[0], {-1}); }, {x}, tol);
    check_op([](V v) { return logsumexp(v[0], {1}); }, {x}, tol);
    check_op([](V v) { return argmax(v[0], 1); }, {x}, 0);
    check_op([](V v) { return softmax(v[0], 1) + transpose(log_softmax(transpose(v[0], 1, 2), -1), 1, 2); }, {x}, tol);
    Tensor scale = rnd({8}, dtype, 9), bias = rnd({8}, dtype, 10);
    check_op([](V v) { return layer_norm(v[0], v[1], v[2]); }, {x, scale, bias}, tol);
    check_op([](V v) { return layer_norm(transpose(v[0], 1, 2), Tensor(), Tensor()); }, {transpose(x, 1, 2)}, tol);
    check_op([](V v) { return layer_norm_backward(v[0], transpose(v[1], 0, 1)); }, {x, rnd({7, 6, 8}, dtype, 13)}, tol);
    // Its vjp, the one-pass kernel (no create_graph): both outputs, a strided cotangent.
    check_op([](V v) {
      Tensor a = v[0].detach().requires_grad_(), b = v[1].detach().requires_grad_();
      auto g = grad({layer_norm_backward(a, b)}, {a, b}, {transpose(v[2], 0, 1)});
      return g[0] + 2.0 * g[1];
    }, {x, rnd({6, 7, 8}, dtype, 14), rnd({7, 6, 8}, dtype, 15)}, tol);
    Tensor a = rnd({2, 1, 5, 6}, dtype, 11), b = rnd({3, 6, 4}, dtype, 12);
    check_op([](V v) { return matmul(v[0], v[1]); }, {a, b}, tol);
    check_op([](V v) { return matmul(transpose(v[1], -1, -2), transpose(v[0], -1, -2)); }, {a, b}, tol);
  }
}

TEST_CASE("parity: indexing") {
  Tensor x = rnd({5, 4, 3}, DType::float64, 13);
  Tensor rows = from_vector(std::vector<std::int64_t>{4, 0, 2, 2}, Shape{4});
  Tensor index = cast(rnd({5, 2, 3}, DType::float64, 14, 0, 4), DType::int64);
  using V = const std::vector<Tensor>&;
  check_op([](V v) { return index_select(v[0], 0, v[1]); }, {x, rows}, 0);
  check_op([](V v) { return index_select(v[0], 2, slice(v[1], 0, 1, 3)); }, {x, from_vector(std::vector<std::int64_t>{0, 2, 1, 1}, Shape{4})}, 0);
  check_op([](V v) { return gather(v[0], 1, v[1]); }, {x, index}, 0);
  check_op([](V v) { return concat({v[0], v[0] * 2.0}, 1); }, {x}, 0);
  check_op([](V v) { return stack({v[0], v[0]}, 0); }, {x}, 0);
  check_op([](V v) { return one_hot(v[0], 5, DType::float64); }, {rows}, 0);
  // The device checks indices without waiting for it: the error, naming the op and the index,
  // comes at its next synchronisation (here the copy to the host), through the index's layout
  // (a broadcast index, a negative value), and a later op runs clean.
  CHECK_THROWS_WITH(to(index_select(on(x), 0, on(from_vector(std::vector<std::int64_t>{7}, Shape{1}))), kCPU),
                    Catch::Contains("[index_select] index 7 is out of range"));
  Tensor negative = expand(from_vector(std::vector<std::int64_t>{0, -1}, Shape{1, 2, 1}), {5, 2, 3});
  CHECK_THROWS_WITH(to(gather(on(x), 1, on(negative)), kCPU),
                    Catch::Contains("[gather] index -1 is out of range for an axis of size 4"));
  CHECK_THROWS_WITH((gather(on(x), 1, on(index) + 2), synchronize(current_stream(kThrust))),
                    Catch::Contains("index 5 is out of range for an axis of size 4"));
  check_op([](V v) { return gather(v[0], 1, v[1]); }, {x, index}, 0);
  // The kernels run before the error is raised: one far out of range reads and writes nothing
  // outside the tensors (unguarded, these would fault), and the adjoints' sorted path too.
  const std::int64_t far = std::int64_t{1} << 40;
  Tensor far_rows = on(from_vector(std::vector<std::int64_t>{0, far, -far}, Shape{3}));
  CHECK_THROWS_WITH(to(index_select(on(x), 0, far_rows), kCPU), Catch::Contains("is out of range for an axis of size 5"));
  Tensor xg = on(x).detach().requires_grad_();  // the backward rules run index_add and scatter_add
  CHECK_THROWS_WITH(to(grad(sum(index_select(xg, 0, far_rows)), xg), kCPU), Catch::Contains("out of range"));
  Tensor far_index = on(expand(from_vector(std::vector<std::int64_t>{far}, Shape{1, 1, 1}), {5, 2, 3}));
  CHECK_THROWS_WITH(to(grad(sum(gather(xg, 1, far_index)), xg), kCPU), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(to(one_hot(on(from_vector(std::vector<std::int64_t>{1, 5}, Shape{2})), 5, DType::float32), kCPU),
                    Catch::Contains("[one_hot] index 5 is out of range for an axis of size 5"));
}

TEST_CASE("parity: gradients of first and second order on thrust-host") {
  // f(x, w) = sum(softmax(tanh(x @ w) * s) * layer_norm(x @ w)) with repeated index_select
  // (its backward adds into the same rows) and a gather.
  Tensor x0 = rnd({6, 5}, DType::float64, 15), w0 = rnd({5, 4}, DType::float64, 16);
  Tensor s = rnd({4}, DType::float64, 17);
  Tensor rows = from_vector(std::vector<std::int64_t>{1, 3, 3, 0}, Shape{4});
  auto run = [&](Device device) {
    Tensor x = to(x0, device).detach().requires_grad_(), w = to(w0, device).detach().requires_grad_();
    Tensor h = matmul(index_select(x, 0, to(rows, device)), w);
    Tensor picks = to(from_vector(std::vector<std::int64_t>{0, 2, 2, 4, 1, 1}, Shape{6, 1}), device);
    Tensor y = sum(softmax(tanh(h) * to(s, device), -1) * layer_norm(h, Tensor(), Tensor())) +
               sum(square(gather(x, 1, picks)));  // gather's backward is scatter_add
    auto g = grad({y}, {x, w}, {}, {.create_graph = true});
    Tensor second = grad(sum(g[0] * g[0]) + sum(g[1]), x);
    return std::vector<Tensor>{y.detach(), g[0].detach(), g[1].detach(), second};
  };
  auto cpu = run(kCPU), thrust = run(kThrust);
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    INFO("result " << i);
    check_same(thrust[i], cpu[i], 1e-12);
  }
}

TEST_CASE("parity: streams of the device keep their memory apart and compute as the default stream") {
  if (kThrust.type == DeviceType::cpu) return;
  const Stream side = new_stream(kThrust), other = new_stream(kThrust);
  REQUIRE(side.id != 0);
  REQUIRE(side.id != other.id);
  CHECK(current_stream(kThrust) == default_stream(kThrust));
  CHECK(current_stream(kCPU) == default_stream(kCPU));
  Tensor x = rnd({64, 48}, DType::float32, 5), w = rnd({48, 32}, DType::float32, 6);
  const Tensor reference = tanh(matmul(x, w)) * 2.0;
  void* freed = nullptr;
  {
    StreamGuard on_side(side);
    CHECK(current_stream(kThrust) == side);
    CHECK(current_stream(kCPU) == default_stream(kCPU));  // other devices keep theirs
    {
      StreamGuard nested(other);
      CHECK(current_stream(kThrust) == other);
    }
    CHECK(current_stream(kThrust) == side);
    Tensor a = tanh(matmul(on(x), on(w))) * 2.0;
    check_same(a, reference, 2e-6);
    freed = a.data_ptr();
  }
  CHECK(current_stream(kThrust) == default_stream(kThrust));
  synchronize(side);
  // The side stream's freed block is not handed to the default stream ...
  Tensor b = Tensor::empty({64, 32}, DType::float32, kThrust);
  CHECK(b.data_ptr() != freed);
  {
    // ... but again to the side stream.
    StreamGuard on_side(side);
    Tensor c = Tensor::empty({64, 32}, DType::float32, kThrust);
    CHECK(c.data_ptr() == freed);
    record_stream(c, other);
  }
  REQUIRE_THROWS_WITH(record_stream(x, side), Catch::Contains("record_stream") && Catch::Contains("cpu"));
}

TEST_CASE("parity: short fused programs travel in the kernel's arguments, long ones through device memory") {
  // Programs of at most 24 instructions are inlined into the kernel: two links are, eight (about
  // 35 instructions, and their second-order backward programs more) are not.
  for (int links : {2, 8}) {
    INFO(links << " links");
    auto chain = [links](Expr x, Expr w) {
      Expr z = x;
      for (int i = 0; i < links; ++i) z = tanh(z * w + x) * 0.9;
      return z;
    };
    Tensor x = rnd({9, 13}, DType::float64, 21), w = rnd({13}, DType::float64, 22);
    check_op([&](const std::vector<Tensor>& in) { return fuse(chain, in[0], in[1]); }, {x, w}, 1e-13);
    auto second = [&](const std::vector<Tensor>& in) {
      Tensor a = in[0].detach().requires_grad_(), b = in[1].detach().requires_grad_();
      Tensor ga = grad(sum(fuse(chain, a, b)), a, {.create_graph = true});
      return grad(sum(ga * ga), b);
    };
    check_op(second, {x, w}, 1e-12);
  }
}
