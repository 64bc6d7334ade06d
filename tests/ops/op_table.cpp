#include "tests/ops/op_table.hpp"

#include <cmath>

namespace test::ops {

using namespace mttt;

namespace {

Tensor rnd(const Shape& shape, std::uint64_t seed, double low = -1, double high = 1) {
  Generator g(seed);
  return uniform(shape, low, high, {DType::float64}, &g);
}
// Values at least 0.2 away from zero (kinks of relu, abs, sign at 0).
Tensor away(const Shape& shape, std::uint64_t seed) {
  Tensor x = rnd(shape, seed);
  NoGrad off;
  return x + sign(x) * 0.2;
}
Tensor indices(const std::vector<std::int64_t>& v, const Shape& shape) { return from_vector(v, shape); }
// A new float64 tensor with x's values on x's device: what the in-place rows write into.
Tensor fresh_copy(const Tensor& x) {
  Tensor out = zeros(x.shape(), {DType::float64, x.device()});
  copy_(out, x);
  return out;
}

// A kernel of its own on each backend there is (cpu, thrust-host, cuda).
constexpr unsigned kEveryBackend = kCpuKernel | kThrustKernel;

using F = std::function<Tensor(const Inputs&)>;
using Make = std::function<Inputs()>;

// Elementwise ops run the elementwise program kernel on every backend.
OpRow elementwise(const char* name, F f, Make inputs, int differentiable = -1) {
  return {name, "elementwise", kEveryOrder, "elementwise", kEveryBackend, differentiable, std::move(f),
          std::move(inputs)};
}
Make one(std::uint64_t seed) {
  return [seed] { return Inputs{rnd({3, 4}, seed)}; };
}
Make positive(std::uint64_t seed) {
  return [seed] { return Inputs{rnd({3, 4}, seed, 0.5, 2)}; };
}
// Two inputs that broadcast against each other: (3, 1, 4) and (2, 4).
Make two(std::uint64_t seed) {
  return [seed] { return Inputs{rnd({3, 1, 4}, seed), rnd({2, 4}, seed + 1)}; };
}

std::vector<OpRow> make_table() {
  using V = const Inputs&;
  std::vector<OpRow> t;
  // --- elementwise.hpp ---------------------------------------------------------------------
  t.push_back(elementwise("apply_program", [](V v) {
    static const expr::ProgramPtr program = [] {
      expr::Builder b(2);
      Expr x(&b, b.input(0)), y(&b, b.input(1));
      return b.finish((tanh(x * y) + x).reg());
    }();
    return apply_program(program, {v[0], v[1]});
  }, two(1)));
  t.push_back(elementwise("fuse", [](V v) {
    return fuse([](Expr a, Expr b) { return gelu(a * b + a) * sin(b); }, v[0], v[1]);
  }, two(3)));
  t.push_back(elementwise("fuse_all", [](V v) {
    return fuse_all([](const std::vector<Expr>& e) { return exp(e[0] - e[1]) * e[1]; }, {v[0], v[1]});
  }, two(5)));
  t.push_back(elementwise("add", [](V v) { return add(v[0], v[1]) + (v[0] + 2.0) + (2.0 + v[1]); }, two(7)));
  t.push_back(elementwise("sub", [](V v) { return sub(v[0], v[1]) + (v[0] - 2.0) + (2.0 - v[1]); }, two(9)));
  t.push_back(elementwise("mul", [](V v) { return mul(v[0], v[1]) + v[0] * 3.0 + 3.0 * v[1]; }, two(11)));
  t.push_back(elementwise("div", [](V v) { return div(v[0], v[1]) + v[0] / 3.0 + 3.0 / v[1]; },
                          [] { return Inputs{rnd({3, 1, 4}, 13), rnd({2, 4}, 14, 0.5, 2)}; }));
  t.push_back(elementwise("pow", [](V v) { return pow(v[1], v[0]) + pow(v[1], 2.5); },
                          [] { return Inputs{rnd({3, 1, 4}, 15), rnd({2, 4}, 16, 0.5, 2)}; }));
  t.push_back(elementwise("maximum", [](V v) { return maximum(v[0], v[1]); }, two(17)));
  t.push_back(elementwise("minimum", [](V v) { return minimum(v[0], v[1]); }, two(19)));
  t.push_back(elementwise("neg", [](V v) { return neg(v[0]) + -v[0]; }, one(21)));
  t.push_back(elementwise("exp", [](V v) { return exp(v[0]); }, one(22)));
  t.push_back(elementwise("expm1", [](V v) { return expm1(v[0]); }, one(23)));
  t.push_back(elementwise("log", [](V v) { return log(v[0]); }, positive(24)));
  t.push_back(elementwise("log1p", [](V v) { return log1p(v[0]); }, positive(25)));
  t.push_back(elementwise("sqrt", [](V v) { return sqrt(v[0]); }, positive(26)));
  t.push_back(elementwise("rsqrt", [](V v) { return rsqrt(v[0]); }, positive(27)));
  t.push_back(elementwise("abs", [](V v) { return abs(v[0]); }, [] { return Inputs{away({3, 4}, 28)}; }));
  t.push_back(elementwise("sign", [](V v) { return sign(v[0]) * v[0]; }, [] { return Inputs{away({3, 4}, 29)}; }));
  t.push_back(elementwise("square", [](V v) { return square(v[0]); }, one(30)));
  t.push_back(elementwise("reciprocal", [](V v) { return reciprocal(v[0]); }, positive(31)));
  t.push_back(elementwise("sin", [](V v) { return sin(v[0]); }, one(32)));
  t.push_back(elementwise("cos", [](V v) { return cos(v[0]); }, one(33)));
  t.push_back(elementwise("tanh", [](V v) { return tanh(v[0]); }, one(34)));
  t.push_back(elementwise("sigmoid", [](V v) { return sigmoid(v[0]); }, one(35)));
  t.push_back(elementwise("relu", [](V v) { return relu(v[0]); }, [] { return Inputs{away({3, 4}, 36)}; }));
  t.push_back(elementwise("elu", [](V v) { return elu(v[0], 0.7); }, [] { return Inputs{away({3, 4}, 37)}; }));
  t.push_back(elementwise("gelu", [](V v) { return gelu(v[0]); }, one(38)));
  t.push_back(elementwise("gelu_erf", [](V v) { return gelu_erf(v[0]); }, one(39)));
  t.push_back(elementwise("erf", [](V v) { return erf(v[0]); }, one(40)));
  t.push_back(elementwise("clamp", [](V v) { return clamp(v[0], -0.6, 0.5); }, one(41)));
  // Comparisons: steps, whose derivative is zero (to every order) away from ties.
  t.push_back(elementwise("eq", [](V v) { return eq(v[0], v[1]) * v[0] + eq(v[0], v[0]) * v[1]; }, two(42)));
  t.push_back(elementwise("ne", [](V v) { return ne(v[0], v[1]) * v[0]; }, two(44)));
  t.push_back(elementwise("lt", [](V v) { return lt(v[0], v[1]) * v[0]; }, two(46)));
  t.push_back(elementwise("le", [](V v) { return le(v[0], v[1]) * v[1]; }, two(48)));
  t.push_back(elementwise("gt", [](V v) { return gt(v[0], v[1]) * v[0]; }, two(50)));
  t.push_back(elementwise("ge", [](V v) { return ge(v[0], v[1]) * v[1]; }, two(52)));
  t.push_back(elementwise("where", [](V v) { return where(v[2], v[0], v[1]); },
                          [] {
                            Tensor c = from_vector(std::vector<double>{1, 0, 0, 1}, Shape{4}, {DType::float64});
                            return Inputs{rnd({3, 1, 4}, 54), rnd({2, 4}, 55), c};
                          },
                          2));
  // Through float32 and back: finite differences take a step of 2^-4, so that float32's rounding
  // (2^-25 relative) stays below gradcheck's tolerance; the function is linear (no truncation).
  t.push_back({"cast", "elementwise", kEveryOrder, "copy", kEveryBackend, -1,
               [](V v) { return cast(cast(v[0], DType::float32), DType::float64) * 3.0; }, one(56), 0.0625});
  t.push_back({"all_finite", "elementwise", 0, "elementwise, reduce", kEveryBackend, -1,
               [](V v) {
                 Tensor nan = full({1}, std::nan(""), {DType::float64, v[0].device()});
                 return from_vector(std::vector<double>{double(all_finite(v[0])), double(all_finite(v[0] * nan))},
                                    Shape{2}, {DType::float64, v[0].device()});
               },
               one(57)});
  // --- reduce.hpp --------------------------------------------------------------------------
  auto reduce = [](const char* name, int order, const char* kernel, unsigned native, F f) {
    return OpRow{name, "reduce", order, kernel, native, -1, std::move(f), [] { return Inputs{rnd({3, 4, 5}, 60)}; }};
  };
  t.push_back(reduce("sum", kEveryOrder, "reduce", kEveryBackend,
                     [](V v) { return sum(v[0], {0, 2}, true) * 2.0 + sum(v[0]); }));
  t.push_back(reduce("mean", kEveryOrder, "reduce", kEveryBackend, [](V v) { return mean(v[0], {1}) + mean(v[0]); }));
  // Over the last axis only: a broadcast input repeats the leading axis, whose ties would make
  // the maximum over it a kink.
  t.push_back(reduce("max", kEveryOrder, "reduce", kEveryBackend, [](V v) { return max(v[0], {-1}, true); }));
  t.push_back(reduce("min", kEveryOrder, "reduce", kEveryBackend, [](V v) { return min(v[0], {2}); }));
  t.push_back(reduce("var", kEveryOrder, "", kComposed,
                     [](V v) { return var(v[0], {-1}, true) + var(v[0], {1}, true, 1) + var(v[0]); }));
  t.push_back(reduce("logsumexp", kEveryOrder, "", kComposed, [](V v) { return logsumexp(v[0], {1, 2}); }));
  t.push_back(reduce("argmax", 0, "reduce", kEveryBackend, [](V v) { return argmax(v[0], 2); }));
  t.push_back(reduce("argmin", 0, "reduce", kEveryBackend, [](V v) { return argmin(v[0], -1, true); }));
  // --- matmul.hpp --------------------------------------------------------------------------
  t.push_back({"matmul", "matmul", kEveryOrder, "matmul", kEveryBackend, -1,
               [](V v) { return matmul(v[0], v[1]) + matmul(v[2], v[3]); },  // (2, 3, 3, 2) + (2)
               [] { return Inputs{rnd({2, 1, 3, 4}, 61), rnd({3, 4, 2}, 62), rnd({2, 4}, 63), rnd({4}, 64)}; }});
  // --- softmax.hpp, norm.hpp: fused kernels ------------------------------------------------
  t.push_back({"softmax", "softmax", kEveryOrder, "softmax", kEveryBackend, -1,
               [](V v) { return softmax(v[0], 1) * 2.0 + softmax(v[0]); },
               [] { return Inputs{rnd({3, 4, 5}, 65, -3, 3)}; }});
  t.push_back({"log_softmax", "softmax", kEveryOrder, "softmax", kEveryBackend, -1,
               [](V v) { return log_softmax(v[0], 0) + log_softmax(v[0], -1); },
               [] { return Inputs{rnd({3, 4, 5}, 66, -3, 3)}; }});
  t.push_back({"layer_norm", "norm", kEveryOrder, "layer_norm", kEveryBackend, -1,
               [](V v) { return layer_norm(v[0], v[1], v[2], 1e-3) + layer_norm(v[0], Tensor(), Tensor()); },
               [] { return Inputs{rnd({3, 4, 5}, 67), rnd({5}, 68), rnd({5}, 69)}; }});
  t.push_back({"layer_norm_backward", "norm", kEveryOrder, "layer_norm_backward, layer_norm_backward_vjp",
               kEveryBackend, -1, [](V v) { return layer_norm_backward(v[0], v[1], 1e-3); },
               [] { return Inputs{rnd({3, 4, 5}, 70), rnd({3, 4, 5}, 71)}; }});
  // --- shape_ops.hpp: views (no kernel) and copies ------------------------------------------
  auto shape = [](const char* name, const char* kernel, unsigned native, F f) {
    return OpRow{name, "shape_ops", kEveryOrder, kernel, native, -1, std::move(f),
                 [] { return Inputs{rnd({3, 4, 5}, 72)}; }};
  };
  t.push_back(shape("reshape", "copy", kEveryBackend,
                    [](V v) { return reshape(v[0], {4, -1}) + reshape(transpose(v[0], 0, 2), {4, 15}); }));
  t.push_back(shape("flatten", "", kComposed, [](V v) { return flatten(v[0], 1); }));
  t.push_back(shape("permute", "", kComposed, [](V v) { return permute(v[0], {2, 0, 1}) * 1.5; }));
  t.push_back(shape("transpose", "", kComposed, [](V v) { return transpose(v[0], 0, 2) * 1.5; }));
  t.push_back(shape("slice", "", kComposed, [](V v) { return slice(v[0], 2, 1, 5, 2) * 1.5; }));
  t.push_back(shape("select", "", kComposed, [](V v) { return select(v[0], 1, 2) * 1.5; }));
  t.push_back(shape("expand", "", kComposed, [](V v) { return expand(slice(v[0], 1, 0, 1), {2, 3, 4, 5}) * 1.5; }));
  t.push_back(shape("squeeze", "", kComposed, [](V v) { return squeeze(slice(v[0], 1, 1, 2), 1) * 1.5; }));
  t.push_back(shape("unsqueeze", "", kComposed, [](V v) { return unsqueeze(v[0], 1) * 1.5; }));
  t.push_back(shape("contiguous", "copy", kEveryBackend, [](V v) { return contiguous(transpose(v[0], 1, 2)); }));
  t.push_back(shape("sum_to", "reduce", kEveryBackend, [](V v) { return sum_to(v[0], {4, 1}); }));
  // --- index.hpp ---------------------------------------------------------------------------
  auto index = [](const char* name, int order, const char* kernel, F f, Make inputs, int differentiable = -1) {
    return OpRow{name, "index", order, kernel, kEveryBackend, differentiable, std::move(f), std::move(inputs)};
  };
  Make x345 = [] { return Inputs{rnd({3, 4, 5}, 73)}; };
  t.push_back(index("concat", kEveryOrder, "copy", [](V v) { return concat({v[0], v[0] * 2.0}, 1); }, x345));
  t.push_back(index("stack", kEveryOrder, "copy", [](V v) { return stack({v[0], v[0] * 2.0}, 2); }, x345));
  t.push_back(index("split", kEveryOrder, "", [](V v) {
    auto parts = split(v[0], {1, 3}, 1);
    return parts[1] * 2.0 + sum(parts[0]);
  }, x345));
  t.back().native = kComposed;
  t.push_back(index("chunk", kEveryOrder, "", [](V v) {
    auto parts = chunk(v[0], 2, 1);
    return parts[0] * parts[1];
  }, x345));
  t.back().native = kComposed;
  t.push_back(index("index_select", kEveryOrder, "index_select, index_add",
                    [](V v) { return index_select(v[0], 1, v[1]); },
                    [] { return Inputs{rnd({3, 4, 5}, 74), indices({3, 0, 3, 1}, {4})}; }, 1));
  t.push_back(index("gather", kEveryOrder, "gather, scatter_add", [](V v) { return gather(v[0], 2, v[1]); },
                    [] {
                      return Inputs{rnd({3, 4, 5}, 75),
                                    indices({0, 4, 4, 1, 2, 2, 3, 0, 1, 1, 4, 0, 2, 3, 3, 3, 0, 1, 4, 2, 1, 1, 0, 0},
                                            {3, 4, 2})};
                    },
                    1));
  t.push_back(index("one_hot", 0, "elementwise", [](V v) { return one_hot(v[0], 5, DType::float64); },
                    [] { return Inputs{indices({4, 0, 2, 2, 1, 3}, {2, 3})}; }, 0));
  // --- inplace.hpp: written into existing storage, not recorded -----------------------------
  t.push_back({"copy_", "inplace", 0, "copy", kEveryBackend, -1,
               [](V v) {
                 Tensor out = zeros({2, 3, 4, 5}, {DType::float64, v[0].device()});
                 copy_(out, v[0]);
                 return out;
               },
               x345});
  t.push_back({"fill_", "inplace", 0, "fill", kEveryBackend, -1,
               [](V v) {
                 Tensor out = fresh_copy(v[0]);
                 fill_(slice(out, 1, 1, 3), 2.5);
                 return out;
               },
               x345});
  t.push_back({"apply_program_into", "inplace", 0, "elementwise", kEveryBackend, -1,
               [](V v) {
                 static const expr::ProgramPtr program = [] {
                   expr::Builder b(2);
                   Expr o(&b, b.input(0)), x(&b, b.input(1));
                   return b.finish((o * x + exp(x)).reg());
                 }();
                 Tensor out = fresh_copy(v[0]);
                 apply_program_into(out, program, {out, v[0]});
                 return out;
               },
               x345});
  // A scalar broadcast over the output, and the output read as an input.
  t.push_back({"fuse_into", "inplace", 0, "elementwise", kEveryBackend, -1,
               [](V v) {
                 Tensor out = fresh_copy(v[0]);
                 const Tensor scale = full({}, 0.5, {DType::float64, v[0].device()});
                 fuse_into(out, [](Expr o, Expr x, Expr c) { return where(gt(x, c), o - c * x, o * x); }, out, v[0], scale);
                 return out;
               },
               x345});
  // --- transfer.hpp ------------------------------------------------------------------------
  t.push_back({"to", "transfer", kEveryOrder, "copy_to_host, copy_from_host", kEveryBackend, -1,
               [](V v) { return to(to(v[0], kCPU) * 2.0, v[0].device()); }, x345});
  // Host memory in and out, not recorded: any layout read out row-major, and read back in.
  t.push_back({"copy_to_host", "transfer", 0, "copy_to_host", kEveryBackend, -1,
               [](V v) {
                 std::vector<double> host(static_cast<std::size_t>(v[0].numel()));
                 copy_to_host(v[0], host.data());
                 return from_vector(host, v[0].shape(), {DType::float64, v[0].device()});
               },
               x345});
  t.push_back({"from_host", "transfer", 0, "copy_from_host", kEveryBackend, -1,
               [](V v) {
                 const std::vector<double> host = v[0].to_vector<double>();
                 return from_host(host.data(), v[0].shape(), {DType::float64, v[0].device()});
               },
               x345});
  return t;
}

}  // namespace

const std::vector<OpRow>& op_table() {
  static const std::vector<OpRow> table = make_table();
  return table;
}

bool is_fused(const OpRow& row) {
  for (const char* fused : {"softmax", "layer_norm", "layer_norm_backward"})
    if (row.kernel.rfind(fused, 0) == 0) return true;
  return false;
}

namespace {

// x's values as a view whose strides are all doubled (every other element of a stacked pair).
Tensor strided(const Tensor& x) { return x.rank() == 0 ? x : select(stack({x, x}, -1), -1, 0); }

}  // namespace

std::vector<Variant> variants(const OpRow& row, Device device) {
  Inputs all = row.inputs();
  for (Tensor& x : all) x = to(x, device);
  const std::size_t n = row.differentiable < 0 ? all.size() : static_cast<std::size_t>(row.differentiable);
  const Inputs rest(all.begin() + static_cast<std::ptrdiff_t>(n), all.end());
  const Inputs checked(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
  auto with_rest = [rest](Inputs v) {
    v.insert(v.end(), rest.begin(), rest.end());
    return v;
  };
  const auto f = row.f;
  std::vector<Variant> out;
  out.push_back({"as made", [f, with_rest](const Inputs& v) { return f(with_rest(v)); }, checked});
  out.push_back({"non-contiguous", [f, with_rest](const Inputs& v) {
                   Inputs views;
                   for (const Tensor& x : v) views.push_back(strided(x));
                   return f(with_rest(views));
                 },
                 checked});
  Inputs firsts;
  std::vector<Shape> shapes;
  bool any = false;
  for (const Tensor& x : checked) {
    const bool broadcast = x.rank() >= 1 && x.size(0) > 1;
    any = any || broadcast;
    firsts.push_back(broadcast ? contiguous(slice(x, 0, 0, 1)) : x);
    shapes.push_back(x.shape());
  }
  if (any)
    out.push_back({"broadcast", [f, with_rest, shapes](const Inputs& v) {
                     Inputs wide;
                     for (std::size_t i = 0; i < v.size(); ++i) wide.push_back(expand(v[i], shapes[i]));
                     return f(with_rest(wide));
                   },
                   firsts});
  return out;
}

std::vector<Tensor> derivatives(const Variant& variant, int order) {
  Inputs leaves;
  for (const Tensor& x : variant.inputs) leaves.push_back(order >= 1 ? x.detach().requires_grad_() : x);
  std::vector<Tensor> out;
  Tensor y = variant.f(leaves);
  out.push_back(y.detach());
  if (order < 1 || leaves.empty() || !y.requires_grad()) return out;
  Tensor w = reshape(sin(arange(0, static_cast<double>(y.numel()), 1, {DType::float64, y.device()}) * 0.7 + 0.3),
                     y.shape());
  for (const Tensor& g : grad({y}, leaves, {w}, {.retain_graph = true, .allow_unused = true})) out.push_back(g);
  if (order < 2) return out;
  auto g = grad({y}, leaves, {w}, {.create_graph = true, .allow_unused = true});
  Tensor h = sum(square(y));
  for (const Tensor& gi : g) h = h + sum(square(gi));
  for (const Tensor& s : grad({h}, leaves, {}, {.allow_unused = true})) out.push_back(s);
  return out;
}

}  // namespace test::ops
