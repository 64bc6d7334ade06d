#include "tensor/ops/elementwise.hpp"

#include <bit>
#include <cmath>
#include <span>

#include "tensor/autograd.hpp"
#include "tensor/backend/backend.hpp"
#include "tensor/creation.hpp"
#include "tensor/ops/reduce.hpp"
#include "tensor/ops/shape_ops.hpp"
#include "tensor/runtime.hpp"

namespace mttt {

using expr::Builder;
using expr::OpCode;
using expr::Program;
using expr::ProgramPtr;

namespace {

Tensor apply_op(const ProgramPtr& program, std::span<const Tensor> inputs);

// With fusion off, each instruction becomes its own op (and tape node): the reference that
// fusion is measured and debugged against.
Tensor apply_op_by_op(const Program& program, std::span<const Tensor> inputs) {
  const auto& code = program.code();
  std::vector<Tensor> value(code.size());
  for (std::size_t i = 0; i < code.size(); ++i) {
    const auto& in = code[i];
    if (in.op == OpCode::input) {
      value[i] = inputs[in.a];
      continue;
    }
    if (in.op == OpCode::constant) continue;
    int tensors = 0;
    for (std::int32_t r : {in.a, in.b, in.c}) tensors += r >= 0 && code[r].op != OpCode::constant;
    Builder b(tensors);
    std::vector<Tensor> args;
    auto operand = [&](std::int32_t r) -> std::int32_t {
      if (r < 0) return -1;
      if (code[r].op == OpCode::constant) return b.constant(code[r].imm);
      args.push_back(value[r]);
      return b.input(static_cast<int>(args.size()) - 1);
    };
    std::int32_t ra = operand(in.a), rb = operand(in.b), rc = operand(in.c);
    value[i] = apply_op(b.finish(b.op(in.op, ra, rb, rc, in.imm)), args);
  }
  return value[program.output()];
}

// Checks that the inputs a program reads agree in dtype and device, and broadcasts their shapes.
// Returns the first input read: the result's dtype and device. Messages are formatted only on
// failure, since this runs for every elementwise op.
const Tensor& check_inputs(const char* op, const Program& program, std::span<const Tensor> inputs, Shape& shape) {
  if (static_cast<int>(inputs.size()) != program.num_inputs())
    fail(op, "the program takes {} inputs, got {}", program.num_inputs(), inputs.size());
  const Tensor* first = nullptr;
  for (int k = 0; k < program.num_inputs(); ++k) {
    const Tensor& x = inputs[k];
    // An operand that the program does not read (x * 0 folds to 0) still sets the result's shape.
    if (!x.defined()) {
      if (program.reads(k)) fail(op, "input {} is undefined", k);
      continue;
    }
    if (!first) {
      first = &x;
      shape = x.shape();
      continue;
    }
    if (x.dtype() != first->dtype())
      fail(op, "dtypes {} and {} differ (shapes {} and {}); cast one of them", to_string(first->dtype()),
           to_string(x.dtype()), to_string(first->shape()), to_string(x.shape()));
    if (x.storage()->device() != first->storage()->device())
      fail(op, "tensors on {} and {}; move one of them with to()", to_string(first->device()), to_string(x.device()));
    if (x.shape() != shape) shape = broadcast_shapes(shape, x.shape(), op);
  }
  if (!first) fail(op, "no input is defined, so the result's shape is unknown");
  if (first->dtype() == DType::int64)
    for (const auto& in : program.code())
      if (expr::floating_only(in.op)) fail(op, "'{}' needs floating-point inputs, got int64; cast first", expr::name(in.op));
  return *first;
}

// What a program's backward rule keeps: the inputs that some vjp program reads (undefined
// elsewhere), inline for up to three inputs so that the rule lives inside its tape node; and,
// only when some input was broadcast, every input's shape, to sum cotangents back to.
struct Saved {
  autodiff::SmallVector<Tensor, 3> values;
  std::vector<Shape> shapes;

  Tensor reduce(const Tensor& cotangent, std::size_t k) const {
    return shapes.empty() ? cotangent : sum_to(cotangent, shapes[k]);
  }
};

// Evaluates a multi-output program (a joint vjp) in one pass; nothing is recorded.
std::vector<Tensor> apply_joint(const Program& program, std::span<const Tensor> inputs) {
  const char* op = program.op_name();
  MTTT_OP_SCOPE(op);
  Shape shape;
  const Tensor& first = check_inputs(op, program, inputs, shape);
  std::vector<Tensor> outs;
  outs.reserve(program.outputs().size());
  for (std::size_t j = 0; j < program.outputs().size(); ++j)
    outs.push_back(Tensor::empty(shape, first.dtype(), first.device()));
  backend_of(first).elementwise(program, inputs, outs);
  return outs;
}

// The backward rule of every program: g -> the cotangents of the inputs `needs` asks for.
Grads program_vjp(const Program& program, const Saved& saved, const Tensor& g, NeedsGrad needs) {
  const std::size_t n = saved.values.size();
  autodiff::SmallVector<Tensor, 4> args;
  for (const Tensor& x : saved.values) args.push_back(x);
  args.push_back(g);
  const std::span<const Tensor> arg_span(args.data(), args.size());
  Grads grads(n);
  std::uint64_t mask = 0;
  for (std::size_t k = 0; k < n && k < 64; ++k)
    if (needs[k]) mask |= std::uint64_t{1} << k;
  // A first-order sweep records nothing, so the cotangents of several inputs can come from one
  // pass of the joint vjp. Under create_graph each cotangent must be its own differentiable op;
  // with fusion off the rule runs op by op; anomaly mode checks each op's output by name.
  if (std::popcount(mask) > 1 && n <= 64 && !grad_enabled() && fusion_enabled() && !autodiff::anomaly_enabled()) {
    const expr::JointVjp& joint = program.joint_vjp(mask);
    if (joint.inputs.size() > 1) {
      std::vector<Tensor> values = apply_joint(*joint.program, arg_span);
      for (std::size_t i = 0; i < joint.inputs.size(); ++i) grads[joint.inputs[i]] = saved.reduce(values[i], joint.inputs[i]);
      return grads;
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    if (!needs[k]) continue;
    const ProgramPtr& vjp = program.vjp(static_cast<int>(k));
    if (!vjp->is_zero()) grads[k] = saved.reduce(apply_op(vjp, arg_span), k);
  }
  return grads;
}

Tensor apply_op(const ProgramPtr& program, std::span<const Tensor> inputs) {
  const char* op = program->op_name();
  MTTT_OP_SCOPE(op);
  if (program->outputs().size() != 1) fail(op, "internal error: apply_program takes single-output programs");
  Shape shape;
  const Tensor& first = check_inputs(op, *program, inputs, shape);
  if (!fusion_enabled() && program->compute_count() > 1) return apply_op_by_op(*program, inputs);

  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  backend_of(first).elementwise(*program, inputs, {&out, 1});

  auto nodes = detail::recording_inputs(inputs);
  if (nodes.empty()) return record_nodes(op, out, {}, [](const Tensor&, NeedsGrad) { return Grads{}; });
  // Save only what some vjp program reads: add's rule, for one, needs no input at all.
  Saved saved;
  bool broadcast = false;
  for (const Tensor& x : inputs) {
    saved.values.emplace_back();
    broadcast = broadcast || (x.defined() && x.shape() != shape);
  }
  if (broadcast)
    for (const Tensor& x : inputs) saved.shapes.push_back(x.defined() ? x.shape() : Shape());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    const ProgramPtr& vjp = program->vjp(static_cast<int>(k));
    for (std::size_t j = 0; j < inputs.size(); ++j)
      if (vjp->reads(static_cast<int>(j))) saved.values[j] = inputs[j];
  }
  return record_nodes(op, out, std::move(nodes), [program, saved = std::move(saved)](const Tensor& g, NeedsGrad needs) {
    return program_vjp(*program, saved, g, needs);
  });
}

}  // namespace

Tensor apply_program(const ProgramPtr& program, const std::vector<Tensor>& inputs) { return apply_op(program, inputs); }

namespace {

ProgramPtr unary_program(OpCode op, double imm = 0) {
  Builder b(1);
  return b.finish(b.op(op, b.input(0), -1, -1, imm));
}

ProgramPtr binary_program(OpCode op) {
  Builder b(2);
  return b.finish(b.op(op, b.input(0), b.input(1)));
}

template <OpCode op> Tensor unary(const Tensor& x) {
  static const ProgramPtr program = unary_program(op);
  return apply_op(program, {&x, 1});
}

template <OpCode op> Tensor binary(const Tensor& a, const Tensor& b) {
  static const ProgramPtr program = binary_program(op);
  const Tensor args[2] = {a, b};
  return apply_op(program, args);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary<OpCode::add>(a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary<OpCode::sub>(a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary<OpCode::mul>(a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary<OpCode::div>(a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary<OpCode::pow>(a, b); }
Tensor pow(const Tensor& a, double exponent) {
  return fuse([exponent](Expr x) { return pow(x, exponent); }, a);
}
Tensor maximum(const Tensor& a, const Tensor& b) { return binary<OpCode::maximum>(a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary<OpCode::minimum>(a, b); }

Tensor neg(const Tensor& x) { return unary<OpCode::neg>(x); }
Tensor exp(const Tensor& x) { return unary<OpCode::exp>(x); }
Tensor expm1(const Tensor& x) { return unary<OpCode::expm1>(x); }
Tensor log(const Tensor& x) { return unary<OpCode::log>(x); }
Tensor log1p(const Tensor& x) { return unary<OpCode::log1p>(x); }
Tensor sqrt(const Tensor& x) { return unary<OpCode::sqrt>(x); }
Tensor rsqrt(const Tensor& x) { return unary<OpCode::rsqrt>(x); }
Tensor abs(const Tensor& x) { return unary<OpCode::abs>(x); }
Tensor sign(const Tensor& x) { return unary<OpCode::sign>(x); }
Tensor square(const Tensor& x) { return unary<OpCode::square>(x); }
Tensor reciprocal(const Tensor& x) { return unary<OpCode::reciprocal>(x); }
Tensor sin(const Tensor& x) { return unary<OpCode::sin>(x); }
Tensor cos(const Tensor& x) { return unary<OpCode::cos>(x); }
Tensor tanh(const Tensor& x) { return unary<OpCode::tanh>(x); }
Tensor sigmoid(const Tensor& x) { return unary<OpCode::sigmoid>(x); }
Tensor relu(const Tensor& x) { return unary<OpCode::relu>(x); }
Tensor elu(const Tensor& x, double alpha) { return apply_op(unary_program(OpCode::elu, alpha), {&x, 1}); }
Tensor gelu(const Tensor& x) { return unary<OpCode::gelu_tanh>(x); }
Tensor gelu_erf(const Tensor& x) { return unary<OpCode::gelu_erf>(x); }
Tensor erf(const Tensor& x) { return unary<OpCode::erf>(x); }
Tensor clamp(const Tensor& x, double low, double high) {
  check(low <= high, "clamp", "low {} is above high {}", low, high);
  return fuse([low, high](Expr v) { return clamp(v, low, high); }, x);
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary<OpCode::eq>(a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary<OpCode::ne>(a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary<OpCode::lt>(a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary<OpCode::le>(a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary<OpCode::gt>(a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary<OpCode::ge>(a, b); }
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  static const ProgramPtr program = [] {
    Builder bld(3);
    return bld.finish(bld.op(OpCode::where, bld.input(0), bld.input(1), bld.input(2)));
  }();
  const Tensor args[3] = {condition, a, b};
  return apply_op(program, args);
}

Tensor cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  MTTT_OP_SCOPE("cast");
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  backend_of(x).copy(x, out);
  if (!is_floating(dtype) || !is_floating(x.dtype())) return out;
  return record("cast", out, {x}, [from = x.dtype()](const Tensor& g, NeedsGrad) { return Grads{cast(g, from)}; });
}

bool all_finite(const Tensor& x) {
  if (!is_floating(x.dtype()) || x.numel() == 0) return true;
  NoGrad no_grad;
  // x - x is 0 for finite x and NaN for NaN or Inf.
  Tensor finite = fuse([](Expr v) { return eq(v - v, v.constant(0)); }, x);
  return min(finite).item<double>() == 1.0;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }

namespace {
// The scalar takes the tensor's dtype: an int64 tensor would silently truncate a fractional one
// (x * 0.5 == 0), so that is refused.
const Tensor& integral_scalar(const char* op, const Tensor& t, double s) {
  if (t.defined() && t.dtype() == DType::int64 && s != std::trunc(s))
    fail(op, "int64 tensor of shape {} with the fractional scalar {}; cast the tensor to a floating type first",
         to_string(t.shape()), s);
  return t;
}
}  // namespace

Tensor operator+(const Tensor& a, double b) {
  return fuse([b](Expr x) { return x + b; }, integral_scalar("add", a, b));
}
Tensor operator-(const Tensor& a, double b) {
  return fuse([b](Expr x) { return x - b; }, integral_scalar("sub", a, b));
}
Tensor operator*(const Tensor& a, double b) {
  return fuse([b](Expr x) { return x * b; }, integral_scalar("mul", a, b));
}
Tensor operator/(const Tensor& a, double b) {
  return fuse([b](Expr x) { return x / b; }, integral_scalar("div", a, b));
}
Tensor operator+(double a, const Tensor& b) {
  return fuse([a](Expr x) { return a + x; }, integral_scalar("add", b, a));
}
Tensor operator-(double a, const Tensor& b) {
  return fuse([a](Expr x) { return a - x; }, integral_scalar("sub", b, a));
}
Tensor operator*(double a, const Tensor& b) {
  return fuse([a](Expr x) { return a * x; }, integral_scalar("mul", b, a));
}
Tensor operator/(double a, const Tensor& b) {
  return fuse([a](Expr x) { return a / x; }, integral_scalar("div", b, a));
}

}  // namespace mttt
