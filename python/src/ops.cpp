// The operations of tensor/ops as functions of mttt (mttt.tanh(x), mttt.matmul(a, b), ...), and
// fuse: a Python function over expressions run as one pass and one tape node,
//
//   y = mttt.fuse(lambda a, b, c: mttt.gelu(a * b + c), x, w, bias)
//
// Inside fuse the arguments are mttt.Expr; the elementwise functions accept them as they
// accept tensors.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "python/src/bindings.hpp"

namespace mttt::python {

expr::Expr PyExpr::get() const {
  if (!*alive) throw py::value_error("an mttt.Expr was used after the fuse call that made it returned");
  return expr;
}

namespace {

PyExpr wrap(const PyExpr& like, expr::Expr e) { return {e, like.alive}; }

// f(Tensor) and f(Expr) under one name.
template <class TF, class EF> void unary(py::module_& m, const char* name, TF tensor_fn, EF expr_fn) {
  m.def(name, [tensor_fn](const Tensor& x) { return tensor_fn(x); }, py::arg("x"));
  m.def(name, [expr_fn](const PyExpr& x) { return wrap(x, expr_fn(x.get())); }, py::arg("x"));
}

// f(Tensor, Tensor), with numbers on either side, and the same over expressions.
template <class TF, class EF> void binary(py::module_& m, const char* name, TF tf, EF ef) {
  m.def(name, [tf](const Tensor& a, const Tensor& b) { return tf(a, b); }, py::arg("a"), py::arg("b"));
  m.def(name, [tf](const Tensor& a, double b) { return tf(a, scalar(b, {a.dtype(), a.device()})); }, py::arg("a"), py::arg("b"));
  m.def(name, [tf](double a, const Tensor& b) { return tf(scalar(a, {b.dtype(), b.device()}), b); }, py::arg("a"), py::arg("b"));
  m.def(name, [ef](const PyExpr& a, const PyExpr& b) {
    if (a.alive != b.alive) throw py::value_error("expressions of two different fuse calls cannot be combined");
    return wrap(a, ef(a.get(), b.get()));
  }, py::arg("a"), py::arg("b"));
  m.def(name, [ef](const PyExpr& a, double b) { return wrap(a, ef(a.get(), a.get().constant(b))); }, py::arg("a"), py::arg("b"));
  m.def(name, [ef](double a, const PyExpr& b) { return wrap(b, ef(b.get().constant(a), b.get())); }, py::arg("a"), py::arg("b"));
}

void bind_expr(py::module_& m) {
  py::class_<PyExpr> e(m, "Expr", "an elementwise expression inside mttt.fuse (refers to no tensor)");
  auto same = [](const PyExpr& a, const PyExpr& b) {
    if (a.alive != b.alive) throw py::value_error("expressions of two different fuse calls cannot be combined");
  };
  e.def("__add__", [=](const PyExpr& a, const PyExpr& b) { same(a, b); return wrap(a, a.get() + b.get()); })
      .def("__add__", [](const PyExpr& a, double b) { return wrap(a, a.get() + b); })
      .def("__radd__", [](const PyExpr& a, double b) { return wrap(a, b + a.get()); })
      .def("__sub__", [=](const PyExpr& a, const PyExpr& b) { same(a, b); return wrap(a, a.get() - b.get()); })
      .def("__sub__", [](const PyExpr& a, double b) { return wrap(a, a.get() - b); })
      .def("__rsub__", [](const PyExpr& a, double b) { return wrap(a, b - a.get()); })
      .def("__mul__", [=](const PyExpr& a, const PyExpr& b) { same(a, b); return wrap(a, a.get() * b.get()); })
      .def("__mul__", [](const PyExpr& a, double b) { return wrap(a, a.get() * b); })
      .def("__rmul__", [](const PyExpr& a, double b) { return wrap(a, b * a.get()); })
      .def("__truediv__", [=](const PyExpr& a, const PyExpr& b) { same(a, b); return wrap(a, a.get() / b.get()); })
      .def("__truediv__", [](const PyExpr& a, double b) { return wrap(a, a.get() / b); })
      .def("__rtruediv__", [](const PyExpr& a, double b) { return wrap(a, b / a.get()); })
      .def("__pow__", [=](const PyExpr& a, const PyExpr& b) { same(a, b); return wrap(a, expr::pow(a.get(), b.get())); })
      .def("__pow__", [](const PyExpr& a, double b) { return wrap(a, expr::pow(a.get(), b)); })
      .def("__neg__", [](const PyExpr& a) { return wrap(a, -a.get()); });

  // fuse(f, *tensors): f receives one Expr per tensor and returns an Expr.
  m.def("fuse", [](py::function f, py::args args) {
    std::vector<Tensor> inputs;
    for (auto a : args) inputs.push_back(a.cast<Tensor>());
    auto alive = std::make_shared<bool>(true);
    struct Expire {
      std::shared_ptr<bool> alive;
      ~Expire() { *alive = false; }
    } expire{alive};
    return fuse_all([&](const std::vector<expr::Expr>& xs) {
      py::tuple py_args(xs.size());
      for (std::size_t i = 0; i < xs.size(); ++i) py_args[i] = py::cast(PyExpr{xs[i], alive});
      py::object result = f(*py_args);
      if (!py::isinstance<PyExpr>(result))
        throw py::type_error("fuse: the function must return an mttt.Expr built from its arguments, got " +
                             py::str(result.get_type().attr("__name__")).cast<std::string>());
      return result.cast<PyExpr>().get();
    }, inputs);
  }, py::arg("f"), "runs f over expressions of the inputs (broadcast together) as one pass and one tape node");
}

}  // namespace

void bind_ops(py::module_& m) {
  bind_expr(m);

#define MTTT_UNARY(name) unary(m, #name, [](const Tensor& x) { return name(x); }, [](expr::Expr x) { return expr::name(x); })
  MTTT_UNARY(exp); MTTT_UNARY(expm1); MTTT_UNARY(log); MTTT_UNARY(log1p); MTTT_UNARY(sqrt); MTTT_UNARY(rsqrt);
  MTTT_UNARY(abs); MTTT_UNARY(sign); MTTT_UNARY(square); MTTT_UNARY(reciprocal); MTTT_UNARY(sin); MTTT_UNARY(cos);
  MTTT_UNARY(tanh); MTTT_UNARY(sigmoid); MTTT_UNARY(relu); MTTT_UNARY(gelu); MTTT_UNARY(gelu_erf); MTTT_UNARY(erf);
#undef MTTT_UNARY
  unary(m, "neg", [](const Tensor& x) { return -x; }, [](expr::Expr x) { return -x; });
  m.def("elu", [](const Tensor& x, double alpha) { return elu(x, alpha); }, py::arg("x"), py::arg("alpha") = 1.0);
  m.def("elu", [](const PyExpr& x, double alpha) { return wrap(x, expr::elu(x.get(), alpha)); }, py::arg("x"), py::arg("alpha") = 1.0);
  m.def("clamp", [](const Tensor& x, double lo, double hi) { return clamp(x, lo, hi); }, py::arg("x"), py::arg("low"), py::arg("high"));
  m.def("clamp", [](const PyExpr& x, double lo, double hi) { return wrap(x, expr::clamp(x.get(), lo, hi)); },
        py::arg("x"), py::arg("low"), py::arg("high"));

#define MTTT_BINARY(name, tensor_fn, expr_fn) \
  binary(m, name, [](const Tensor& a, const Tensor& b) { return tensor_fn(a, b); }, [](expr::Expr a, expr::Expr b) { return expr_fn(a, b); })
  MTTT_BINARY("add", add, expr::operator+);
  MTTT_BINARY("sub", sub, expr::operator-);
  MTTT_BINARY("mul", mul, expr::operator*);
  MTTT_BINARY("div", div, expr::operator/);
  MTTT_BINARY("pow", pow, expr::pow);
  MTTT_BINARY("maximum", maximum, expr::maximum);
  MTTT_BINARY("minimum", minimum, expr::minimum);
  MTTT_BINARY("eq", eq, expr::eq);
  MTTT_BINARY("ne", ne, expr::ne);
  MTTT_BINARY("lt", lt, expr::lt);
  MTTT_BINARY("le", le, expr::le);
  MTTT_BINARY("gt", gt, expr::gt);
  MTTT_BINARY("ge", ge, expr::ge);
#undef MTTT_BINARY
  m.def("where", [](const Tensor& c, const Tensor& a, const Tensor& b) { return where(c, a, b); });
  m.def("where", [](const PyExpr& c, const PyExpr& a, const PyExpr& b) { return wrap(c, expr::where(c.get(), a.get(), b.get())); });
  m.def("cast", [](const Tensor& x, py::object dtype) { return cast(x, parse_dtype(dtype)); }, py::arg("x"), py::arg("dtype"));
  m.def("all_finite", &all_finite);

  // Reductions: axis None (all), an int or a list.
  auto reduction = [&](const char* name, Tensor (*fn)(const Tensor&, const Axes&, bool)) {
    m.def(name, [fn](const Tensor& x, py::object axis, bool keepdim) { return fn(x, to_axes(axis), keepdim); },
          py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false);
    py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"))
        .def(name, [fn](const Tensor& x, py::object axis, bool keepdim) { return fn(x, to_axes(axis), keepdim); },
             py::arg("axis") = py::none(), py::arg("keepdim") = false);
  };
  reduction("sum", [](const Tensor& x, const Axes& a, bool k) { return sum(x, a, k); });
  reduction("mean", [](const Tensor& x, const Axes& a, bool k) { return mean(x, a, k); });
  reduction("max", [](const Tensor& x, const Axes& a, bool k) { return max(x, a, k); });
  reduction("min", [](const Tensor& x, const Axes& a, bool k) { return min(x, a, k); });
  reduction("logsumexp", [](const Tensor& x, const Axes& a, bool k) { return logsumexp(x, a, k); });
  m.def("var", [](const Tensor& x, py::object axis, bool keepdim, std::int64_t correction) {
          return var(x, to_axes(axis), keepdim, correction);
        },
        py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false, py::arg("correction") = 0);
  m.def("argmax", [](const Tensor& x, std::int64_t axis, bool keepdim) { return argmax(x, axis, keepdim); },
        py::arg("x"), py::arg("axis"), py::arg("keepdim") = false);
  m.def("argmin", [](const Tensor& x, std::int64_t axis, bool keepdim) { return argmin(x, axis, keepdim); },
        py::arg("x"), py::arg("axis"), py::arg("keepdim") = false);

  m.def("matmul", [](const Tensor& a, const Tensor& b) { return matmul(a, b); }, py::arg("a"), py::arg("b"));
  m.def("softmax", [](const Tensor& x, std::int64_t axis) { return softmax(x, axis); }, py::arg("x"), py::arg("axis") = -1);
  m.def("log_softmax", [](const Tensor& x, std::int64_t axis) { return log_softmax(x, axis); }, py::arg("x"), py::arg("axis") = -1);
  m.def("layer_norm", [](const Tensor& x, std::optional<Tensor> scale, std::optional<Tensor> bias, double eps) {
          return layer_norm(x, scale.value_or(Tensor()), bias.value_or(Tensor()), eps);
        },
        py::arg("x"), py::arg("scale") = py::none(), py::arg("bias") = py::none(), py::arg("eps") = 1e-6);

  // Shapes and views.
  m.def("reshape", [](const Tensor& x, py::object shape) { return reshape(x, to_shape(shape)); }, py::arg("x"), py::arg("shape"));
  m.def("flatten", [](const Tensor& x, std::int64_t s, std::int64_t e) { return flatten(x, s, e); }, py::arg("x"),
        py::arg("start_axis") = 0, py::arg("end_axis") = -1);
  m.def("permute", [](const Tensor& x, std::vector<std::int64_t> axes) { return permute(x, axes); }, py::arg("x"), py::arg("axes"));
  m.def("transpose", [](const Tensor& x, std::int64_t a, std::int64_t b) { return transpose(x, a, b); }, py::arg("x"),
        py::arg("axis0") = -2, py::arg("axis1") = -1);
  m.def("slice", [](const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step) {
          return slice(x, axis, start, stop, step);
        },
        py::arg("x"), py::arg("axis"), py::arg("start"), py::arg("stop"), py::arg("step") = 1);
  m.def("select", [](const Tensor& x, std::int64_t axis, std::int64_t i) { return select(x, axis, i); }, py::arg("x"),
        py::arg("axis"), py::arg("index"));
  m.def("expand", [](const Tensor& x, py::object shape) { return expand(x, to_shape(shape)); }, py::arg("x"), py::arg("shape"));
  m.def("squeeze", [](const Tensor& x, std::int64_t a) { return squeeze(x, a); }, py::arg("x"), py::arg("axis"));
  m.def("unsqueeze", [](const Tensor& x, std::int64_t a) { return unsqueeze(x, a); }, py::arg("x"), py::arg("axis"));
  m.def("contiguous", [](const Tensor& x) { return contiguous(x); }, py::arg("x"));
  m.def("sum_to", [](const Tensor& x, py::object shape) { return sum_to(x, to_shape(shape)); }, py::arg("x"), py::arg("shape"));
  m.def("concat", [](const std::vector<Tensor>& xs, std::int64_t axis) { return concat(xs, axis); }, py::arg("tensors"),
        py::arg("axis") = 0);
  m.def("stack", [](const std::vector<Tensor>& xs, std::int64_t axis) { return stack(xs, axis); }, py::arg("tensors"),
        py::arg("axis") = 0);
  m.def("split", [](const Tensor& x, std::vector<std::int64_t> sizes, std::int64_t axis) { return split(x, sizes, axis); },
        py::arg("x"), py::arg("sizes"), py::arg("axis") = 0);
  m.def("chunk", [](const Tensor& x, std::int64_t n, std::int64_t axis) { return chunk(x, n, axis); }, py::arg("x"),
        py::arg("chunks"), py::arg("axis") = 0);
  m.def("index_select", [](const Tensor& x, std::int64_t axis, const Tensor& i) { return index_select(x, axis, i); },
        py::arg("x"), py::arg("axis"), py::arg("index"));
  m.def("gather", [](const Tensor& x, std::int64_t axis, const Tensor& i) { return gather(x, axis, i); }, py::arg("x"),
        py::arg("axis"), py::arg("index"));
  m.def("one_hot", [](const Tensor& labels, std::int64_t classes, py::object dtype) {
          return one_hot(labels, classes, parse_dtype(dtype));
        },
        py::arg("labels"), py::arg("classes"), py::arg("dtype") = DType::float32);
  m.def("to", [](const Tensor& x, py::object device) { return to(x, to_device(device)); }, py::arg("x"), py::arg("device"));
  m.def("copy_", [](const Tensor& dst, const Tensor& src) { copy_(dst, src); }, py::arg("dst"), py::arg("src"),
        "dst <- src in place (not recorded; under no_grad for tensors that require grad)");
  m.def("fill_", [](const Tensor& dst, double v) { fill_(dst, v); }, py::arg("dst"), py::arg("value"));

  // Method forms of the common ones.
  py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"))
      .def("exp", [](const Tensor& x) { return exp(x); })
      .def("log", [](const Tensor& x) { return log(x); })
      .def("tanh", [](const Tensor& x) { return tanh(x); })
      .def("sigmoid", [](const Tensor& x) { return sigmoid(x); })
      .def("relu", [](const Tensor& x) { return relu(x); })
      .def("sqrt", [](const Tensor& x) { return sqrt(x); })
      .def("abs", [](const Tensor& x) { return abs(x); })
      .def("matmul", [](const Tensor& a, const Tensor& b) { return matmul(a, b); })
      .def("softmax", [](const Tensor& x, std::int64_t axis) { return softmax(x, axis); }, py::arg("axis") = -1)
      .def("argmax", [](const Tensor& x, std::int64_t axis, bool k) { return argmax(x, axis, k); }, py::arg("axis"),
           py::arg("keepdim") = false);
}

}  // namespace mttt::python
