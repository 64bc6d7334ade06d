// Parity of the device's work-parallel kernels with the CPU backend on every shape class they
// pick a path for (tensor/backend/thrust/reduce.hpp, softmax.hpp, layer_norm.hpp, index.hpp):
// full sums, row sums, column sums, strided and broadcast inputs, empty axes, argmax ties and
// NaN, rows of a few elements to thousands, and sizes that cross the chunks, spans, warps and
// blocks of both the host (16,384-element chunks, 16 tasks) and CUDA (8,192-element chunks,
// warps up to 1,024 elements, a thread up to 8) instantiations.
#include <limits>
#include <map>

#include "tensor/backend/thrust/registers.hpp"

#include "tests/parity/parity_check.hpp"

using namespace mttt;
using namespace mttt::parity;

namespace {

using V = const std::vector<Tensor>&;

struct Case {
  const char* name;
  Shape shape;
  std::function<Tensor(const Tensor&)> view;  // a strided or broadcast view of the input
  Axes axes;
};

Tensor same(const Tensor& x) { return x; }

const std::vector<Case> kCases = {
    {"full sum, long", {100003}, same, {0}},
    {"full sum, two axes coalesced", {3, 50001}, same, {0, 1}},
    {"full sum, transposed", {301, 700}, [](const Tensor& x) { return transpose(x); }, {0, 1}},
    {"full sum, broadcast", {1, 700}, [](const Tensor& x) { return expand(x, {300, 700}); }, {0, 1}},
    {"row sums, many rows", {1000, 37}, same, {1}},
    {"row sums, few long rows", {3, 70001}, same, {1}},
    {"row sums, rows of 5", {5000, 5}, same, {1}},
    {"row sums, two trailing axes", {2, 3, 2000}, same, {1, 2}},
    {"row sums, every other element", {40, 2600}, [](const Tensor& x) { return slice(x, 1, 1, 2600, 2); }, {1}},
    {"row sums of a transpose", {400, 300}, [](const Tensor& x) { return transpose(x); }, {0}},
    {"row sums, broadcast rows", {300, 1}, [](const Tensor& x) { return expand(x, {300, 700}); }, {1}},
    {"column sums, one row of 70", {5000, 70}, same, {0}},
    {"column sums, bias of 4 D", {20001, 300}, same, {0}},
    {"column sums, two leading axes", {4, 600, 40}, same, {0, 1}},
    {"column sums, per-head bias", {8, 3, 196, 192}, same, {0, 2}},
    {"column sums, middle axis", {7, 3000, 5}, same, {1}},
    {"column sums of a transpose", {400, 300}, [](const Tensor& x) { return transpose(x); }, {1}},
    {"column sums, broadcast columns", {1, 700}, [](const Tensor& x) { return expand(x, {300, 700}); }, {0}},
};

Tensor input_of(const Case& c, DType dtype, std::uint64_t seed) {
  if (dtype == DType::int64) return cast(rnd(c.shape, DType::float64, seed, -100, 100), DType::int64);
  return rnd(c.shape, dtype, seed);
}

// Values 0, 1 and 2 only: every row has ties.
Tensor ties(const Shape& shape, DType dtype, std::uint64_t seed) {
  return cast(cast(rnd(shape, DType::float64, seed, 0, 3), DType::int64), dtype);
}

// NaN at a few positions of a (rows, length) tensor: none in row 0, one in row 1, two in row 2
// (the first must win), one at the very end of row 3.
Tensor with_nans(std::int64_t rows, std::int64_t length, DType dtype, std::uint64_t seed) {
  auto values = rnd({rows, length}, DType::float64, seed).to_vector<double>();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  values[static_cast<std::size_t>(1 * length + length / 3)] = nan;
  values[static_cast<std::size_t>(2 * length + length / 2)] = nan;
  values[static_cast<std::size_t>(2 * length + length / 5)] = nan;
  values[static_cast<std::size_t>(3 * length + length - 1)] = nan;
  return cast(from_vector(values, Shape{rows, length}), dtype);
}

}  // namespace

TEST_CASE("parity: sums, maxima and minima of every shape class") {
  for (DType dtype : {DType::float32, DType::float64, DType::int64}) {
    std::uint64_t seed = 100;
    for (const Case& c : kCases) {
      INFO(c.name << ", " << to_string(dtype));
      const Tensor x = input_of(c, dtype, ++seed);
      const auto view = c.view;
      const Axes axes = c.axes;
      check_op([&](V v) { return sum(view(v[0]), axes); }, {x}, 10 * tolerance_of(dtype));
      check_op([&](V v) { return sum(view(v[0]), axes, true); }, {x}, 10 * tolerance_of(dtype));
      check_op([&](V v) { return max(view(v[0]), axes); }, {x}, 0);
      check_op([&](V v) { return min(view(v[0]), axes, true); }, {x}, 0);
      if (dtype != DType::int64) check_op([&](V v) { return mean(view(v[0]), axes); }, {x}, 10 * tolerance_of(dtype));
    }
  }
}

TEST_CASE("reductions: one launch, or two where a long run is cut into chunks; nothing read back") {
  struct Launches {
    Shape shape;
    Axes axes;
    std::int64_t kernels;
  };
  // The same counts on the host and on CUDA: the cuts differ in size, not in where they happen.
  for (const Launches& c : std::vector<Launches>{{{100003}, {0}, 2},          // full sum: chunks, then their combine
                                                 {{1000, 37}, {1}, 1},        // row sums: a group per row
                                                 {{3, 70001}, {1}, 2},        // few long rows: chunks
                                                 {{20001, 300}, {0}, 2},      // column sums: spans of rows
                                                 {{3, 70000}, {0}, 1}}) {     // many columns: no spans
    INFO(to_string(c.shape) << " over " << c.axes.size() << " axes");
    const Tensor x = on(zeros(c.shape, {DType::float32}));
    const LaunchStats before = launch_stats(kThrust);
    const Tensor s = sum(x, c.axes);
    const LaunchStats after = launch_stats(kThrust);
    CHECK(after.kernel_launches - before.kernel_launches == c.kernels);
    CHECK(after.host_syncs == before.host_syncs);
    CHECK(after.bytes_to_host == before.bytes_to_host);
  }
}

TEST_CASE("parity: sums over empty axes are zero; extrema over them are errors on both") {
  for (DType dtype : {DType::float32, DType::int64}) {
    Tensor empty_rows = zeros({0, 5}, {dtype}), empty_axis = zeros({5, 0}, {dtype}), middle = zeros({4, 0, 3}, {dtype});
    check_op([](V v) { return sum(v[0], {1}); }, {empty_rows}, 0);
    check_op([](V v) { return sum(v[0], {1}); }, {empty_axis}, 0);
    check_op([](V v) { return sum(v[0], {0, 1}); }, {middle}, 0);
    check_op([](V v) { return sum(v[0]); }, {empty_axis}, 0);
    CHECK_THROWS(max(empty_axis, {1}));
    CHECK_THROWS(max(on(empty_axis), {1}));
    CHECK_THROWS(argmin(on(middle), 1));
  }
}

TEST_CASE("parity: argmax and argmin take the first extremum, in rows, columns and long runs") {
  for (DType dtype : {DType::float32, DType::float64, DType::int64}) {
    INFO(to_string(dtype));
    for (const Shape& shape : {Shape{3, 40000}, Shape{500, 7}, Shape{5000, 3}, Shape{40000, 3}, Shape{6, 700, 5}}) {
      INFO("shape " << to_string(shape));
      const Tensor x = ties(shape, dtype, 7 + shape[0]);
      for (std::int64_t axis = 0; axis < static_cast<std::int64_t>(shape.size()); ++axis) {
        INFO("axis " << axis);
        check_op([axis](V v) { return argmax(v[0], axis); }, {x}, 0);
        check_op([axis](V v) { return argmin(v[0], axis, true); }, {x}, 0);
        check_op([axis](V v) { return argmax(transpose(v[0], 0, -1), axis); }, {x}, 0);
      }
    }
  }
}

TEST_CASE("parity: NaN wins max, min, argmax and argmin, the first NaN of a run") {
  for (DType dtype : {DType::float32, DType::float64}) {
    for (std::int64_t length : {9, 300, 40000}) {
      INFO(to_string(dtype) << ", rows of " << length);
      const Tensor x = with_nans(4, length, dtype, 30 + length);
      for (std::int64_t axis : {0, 1}) {
        // Along axis 0 of the transpose, the runs are x's rows read as columns.
        auto view = [axis](const Tensor& t) { return axis == 1 ? t : transpose(t); };
        check_op([&](V v) { return max(view(v[0]), {axis}); }, {x}, 0);
        check_op([&](V v) { return min(view(v[0]), {axis}); }, {x}, 0);
        check_op([&](V v) { return argmax(view(v[0]), axis); }, {x}, 0);
        check_op([&](V v) { return argmin(view(v[0]), axis); }, {x}, 0);
      }
      check_op([](V v) { return max(v[0]); }, {x}, 0);
      check_op([](V v) { return sum(v[0], {1}); }, {x}, 0);
    }
  }
}

TEST_CASE("parity: softmax and layer norm on rows of a few elements to thousands") {
  for (DType dtype : {DType::float32, DType::float64}) {
    const double tol = 10 * tolerance_of(dtype);
    for (const Shape& shape : {Shape{700, 5}, Shape{64, 300}, Shape{5, 3000}, Shape{2, 3, 1025}}) {
      INFO(to_string(dtype) << ", " << to_string(shape));
      const Tensor x = rnd(shape, dtype, 40 + shape.back(), -4, 4);
      const std::int64_t d = shape.back();
      check_op([](V v) { return softmax(v[0], -1) + log_softmax(v[0], -1); }, {x}, tol);
      check_op([](V v) { return softmax(v[0], 0) + transpose(log_softmax(transpose(v[0], 0, -1), 0), 0, -1); }, {x},
               tol);
      check_op([](V v) { return layer_norm(v[0], v[1], v[2]); }, {x, rnd({d}, dtype, 1), rnd({d}, dtype, 2)}, tol);
      check_op([](V v) { return layer_norm(transpose(transpose(v[0]) * 1.0), Tensor(), Tensor()); }, {x}, tol);
      check_op([](V v) { return layer_norm_backward(v[0], v[1]); }, {x, rnd(shape, dtype, 3)}, tol);
      check_op([](V v) {
        Tensor a = v[0].detach().requires_grad_(), b = v[1].detach().requires_grad_();
        auto g = grad({layer_norm_backward(a, b)}, {a, b}, {v[2]});
        return g[0] + 2.0 * g[1];
      }, {x, rnd(shape, dtype, 4), rnd(shape, dtype, 5)}, tol);
    }
    // A row of -inf has no finite maximum: NaN on both, and the other rows unharmed.
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<double> values{-inf, -inf, -inf, 1, 2, 3, -inf, 0, 5};
    const Tensor rows = cast(from_vector(values, Shape{3, 3}), dtype);
    check_op([](V v) { return softmax(v[0], -1); }, {rows}, tol);
    check_op([](V v) { return log_softmax(v[0], -1); }, {rows}, tol);
  }
}

TEST_CASE("parity: index_add and scatter_add, the adjoints of index_select and gather, add in order") {
  for (DType dtype : {DType::float32, DType::float64}) {
    INFO(to_string(dtype));
    const double tol = 10 * tolerance_of(dtype);
    // Many source rows into few output rows (an embedding's backward), and few into many.
    for (const auto& [rows, picks, width] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{7, 5000, 3},
                                             {5000, 300, 16}, {40, 40000, 1}}) {
      INFO(rows << " rows, " << picks << " picks, width " << width);
      const Tensor x = rnd({rows, width}, dtype, 50);
      const Tensor index = cast(rnd({picks}, DType::float64, 51, 0, static_cast<double>(rows)), DType::int64);
      const Tensor cotangent = rnd({picks, width}, dtype, 52);
      check_op([](V v) {
        Tensor a = v[0].detach().requires_grad_();
        return grad(sum(index_select(a, 0, v[1]) * v[2]), a);
      }, {x, index, cotangent}, tol);
      check_op([](V v) {
        Tensor a = transpose(v[0]).detach().requires_grad_();
        return grad(sum(transpose(index_select(a, 1, v[1])) * v[2]), a);
      }, {x, index, cotangent}, tol);
    }
    // gather along a long axis: every output position is hit by many source positions.
    for (const auto& [rows, length, picks] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{1, 50, 30000},
                                              {600, 9, 4}, {3, 2000, 5000}}) {
      INFO(rows << " rows of " << length << ", " << picks << " picks");
      const Tensor x = rnd({rows, length}, dtype, 53);
      const Tensor index = cast(rnd({rows, picks}, DType::float64, 54, 0, static_cast<double>(length)), DType::int64);
      const Tensor cotangent = rnd({rows, picks}, dtype, 55);
      check_op([](V v) {
        Tensor a = v[0].detach().requires_grad_();
        return grad(sum(gather(a, 1, v[1]) * v[2]), a);
      }, {x, index, cotangent}, tol);
      check_op([](V v) {
        Tensor a = transpose(v[0]).detach().requires_grad_();
        return grad(sum(gather(a, 0, transpose(v[1])) * transpose(v[2])), a);
      }, {x, index, cotangent}, tol);
    }
  }
}

namespace {

// k values live at once: v_i = tanh(x0 * c_i + x1) for k constants, then summed from the last.
expr::ProgramPtr wide_program(int k) {
  expr::Builder b(2);
  const std::int32_t x0 = b.input(0), x1 = b.input(1);
  std::vector<std::int32_t> values;
  for (int i = 0; i < k; ++i) {
    const std::int32_t scaled = b.op(expr::OpCode::mul, x0, b.constant(0.5 + i));
    values.push_back(b.op(expr::OpCode::tanh, b.op(expr::OpCode::add, scaled, x1)));
  }
  std::int32_t total = values.back();
  for (int i = k - 2; i >= 0; --i) total = b.op(expr::OpCode::add, total, values[static_cast<std::size_t>(i)]);
  return b.finish(total);
}

// The program on both backends, straight through Backend::elementwise.
void check_program(const expr::Program& program, DType dtype) {
  const Tensor x0 = rnd({37, 5}, dtype, 60), x1 = rnd({5}, dtype, 61);
  auto run = [&](Device device) {
    const Tensor inputs[2] = {to(x0, device), to(x1, device)};
    const Tensor outs[1] = {Tensor::empty({37, 5}, dtype, device)};
    backend(device).elementwise(program, inputs, outs);
    return outs[0];
  };
  check_same(run(kThrust), run(kCPU), 10 * tolerance_of(dtype));
}

}  // namespace

TEST_CASE("parity: fused programs run on a register file sized to their live values") {
  using thrust_backend::allocate_registers;
  // x0 + x1: the sum takes the register of its dying first operand.
  expr::Builder b(2);
  const auto sum_program = b.finish(b.op(expr::OpCode::add, b.input(0), b.input(1)));
  const auto allocated = allocate_registers(*sum_program, 160);
  CHECK(allocated.registers == 2);
  REQUIRE(allocated.code.size() == 3);
  CHECK(allocated.code[2].dest == 0);
  CHECK(allocated.outputs == std::vector<std::uint8_t>{0});

  // Programs whose files are exactly each size class of the interpreter and one register more
  // (161: beyond the interpreter, one instruction at a time).
  std::map<int, expr::ProgramPtr> by_registers;
  for (int k = 1; k <= 170; ++k) {
    auto program = wide_program(k);
    by_registers.emplace(allocate_registers(*program, 254).registers, program);
  }
  for (int registers : {8, 9, 16, 17, 32, 33, 64, 65, 160, 161}) {
    INFO(registers << " registers");
    REQUIRE(by_registers.count(registers));
    CHECK(allocate_registers(*by_registers[registers], 160).registers == std::min(registers, 161));
    for (DType dtype : {DType::float32, DType::float64}) check_program(*by_registers[registers], dtype);
  }
  // A long chain lives in a few registers: 600 instructions, fused in one pass.
  expr::Builder chain(2);
  std::int32_t z = chain.input(0);
  for (int i = 0; i < 200; ++i) {
    const std::int32_t scaled = chain.op(expr::OpCode::mul, z, chain.input(1));
    z = chain.op(expr::OpCode::tanh, chain.op(expr::OpCode::add, scaled, chain.constant(0.01 * i)));
  }
  const auto long_chain = chain.finish(z);
  CHECK(long_chain->code().size() > 500);
  CHECK(allocate_registers(*long_chain, 160).registers <= 4);
  for (DType dtype : {DType::float32, DType::float64}) check_program(*long_chain, dtype);
}
