// Autodiff from Python: grad and backward, the grad and anomaly modes (python/mttt/_context.py
// makes them context managers), gradcheck to any order, the profiler, and the run-time
// switches (threads, fusion, determinism, memory statistics).
#include <fmt/format.h>
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "python/src/bindings.hpp"

namespace mttt::python {
namespace {

// A tensor or a sequence of tensors, as a list; `single` tells which it was.
std::vector<Tensor> tensor_list(py::handle value, bool* single, const char* what) {
  if (py::isinstance<Tensor>(value)) {
    if (single) *single = true;
    return {value.cast<Tensor>()};
  }
  if (single) *single = false;
  if (!py::isinstance<py::sequence>(value))
    throw py::type_error(std::string("grad: ") + what + " must be a Tensor or a sequence of tensors");
  return value.cast<std::vector<Tensor>>();
}

}  // namespace

void bind_autodiff(py::module_& m) {
  m.def("grad", [](py::object outputs, py::object inputs, py::object grad_outputs, bool create_graph,
                   std::optional<bool> retain_graph, bool allow_unused) -> py::object {
          bool single = false;
          auto ys = tensor_list(outputs, nullptr, "outputs");
          auto xs = tensor_list(inputs, &single, "inputs");
          std::vector<Tensor> gs;
          if (!grad_outputs.is_none()) gs = tensor_list(grad_outputs, nullptr, "grad_outputs");
          auto grads = grad(ys, xs, gs, {.create_graph = create_graph, .retain_graph = retain_graph, .allow_unused = allow_unused});
          if (single) return py::cast(grads[0]);
          return py::cast(grads);
        },
        py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs") = py::none(), py::kw_only(),
        py::arg("create_graph") = false, py::arg("retain_graph") = py::none(), py::arg("allow_unused") = false,
        "gradients of sum_i <grad_outputs_i, outputs_i> with respect to inputs (as torch.autograd.grad); with "
        "create_graph they are on the tape and can be differentiated again");
  m.def("backward", [](py::object outputs, py::object grad_outputs, bool retain_graph) {
          auto ys = tensor_list(outputs, nullptr, "outputs");
          std::vector<Tensor> gs;
          if (!grad_outputs.is_none()) gs = tensor_list(grad_outputs, nullptr, "grad_outputs");
          backward(ys, gs, retain_graph);
        },
        py::arg("outputs"), py::arg("grad_outputs") = py::none(), py::arg("retain_graph") = false,
        "accumulates first-order gradients into the leaves' .grad");

  m.def("grad_enabled", &autodiff::grad_enabled);
  m.def("set_grad_enabled", &autodiff::set_grad_enabled, py::arg("enabled"));
  m.def("anomaly_enabled", &autodiff::anomaly_enabled);
  m.def("set_anomaly_enabled", &autodiff::set_anomaly_enabled, py::arg("enabled"));

  py::class_<GradcheckResult>(m, "GradcheckResult")
      .def_readonly("ok", &GradcheckResult::ok)
      .def_readonly("max_abs_error", &GradcheckResult::max_abs_error)
      .def_readonly("max_rel_error", &GradcheckResult::max_rel_error)
      .def_readonly("message", &GradcheckResult::message)
      .def("__bool__", [](const GradcheckResult& r) { return r.ok; })
      .def("__repr__", [](const GradcheckResult& r) {
        return fmt::format("GradcheckResult(ok={}, max_abs_error={:.3g}, max_rel_error={:.3g}{})", r.ok ? "True" : "False",
                           r.max_abs_error, r.max_rel_error, r.message.empty() ? "" : ", message=" + r.message);
      });
  m.def("gradcheck", [](py::function f, std::vector<Tensor> inputs, int order, double eps, double atol, double rtol,
                        std::uint64_t seed) {
          if (order < 1 || order > 3) throw py::value_error("gradcheck: order must be 1, 2 or 3, got " + std::to_string(order));
          TensorFunction fn = [f](const std::vector<Tensor>& x) {
            py::tuple args = py::cast(x);
            py::object y = f(*args);
            if (!py::isinstance<Tensor>(y))
              throw py::type_error("gradcheck: the function must return an mttt.Tensor, got " +
                                   py::str(y.get_type().attr("__name__")).cast<std::string>());
            return y.cast<Tensor>();
          };
          return gradcheck(fn, inputs, {.order = order, .eps = eps, .atol = atol, .rtol = rtol, .seed = seed});
        },
        py::arg("f"), py::arg("inputs"), py::kw_only(), py::arg("order") = 1, py::arg("eps") = 1e-6,
        py::arg("atol") = 1e-7, py::arg("rtol") = 1e-5, py::arg("seed") = 1234,
        "checks f(*inputs)'s gradients of order 1-3 against central finite differences (float64 inputs)");

  m.def("profiler_enabled", &autodiff::profiler_enabled);
  m.def("set_profiler_enabled", &autodiff::set_profiler_enabled, py::arg("enabled"));
  m.def("profiler_reset", &autodiff::profiler_reset);
  m.def("profiler_table", &autodiff::profiler_table);
  m.def("profiler_rows", [] {
    py::list rows;
    for (const auto& r : autodiff::profiler_rows())
      rows.append(py::dict(py::arg("name") = r.name,
                           py::arg("phase") = r.phase == autodiff::Phase::forward ? "forward" : "backward",
                           py::arg("calls") = r.calls, py::arg("self_seconds") = r.self_seconds,
                           py::arg("total_seconds") = r.total_seconds));
    return rows;
  }, "the profile as dicts (name, phase, calls, self_seconds, total_seconds), by decreasing self time");

  m.def("num_threads", &num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("threads"));
  m.def("fusion_enabled", &fusion_enabled);
  m.def("set_fusion_enabled", &set_fusion_enabled, py::arg("enabled"));
  m.def("deterministic", &deterministic);
  m.def("set_deterministic", &set_deterministic, py::arg("enabled"));
  m.def("memory_stats", [](py::object device) {
    MemoryStats s = memory_stats(to_device(device));
    return py::dict(py::arg("bytes_in_use") = s.bytes_in_use, py::arg("peak_bytes_in_use") = s.peak_bytes_in_use,
                    py::arg("bytes_cached") = s.bytes_cached, py::arg("system_allocations") = s.system_allocations,
                    py::arg("cache_hits") = s.cache_hits);
  }, py::arg("device") = "cpu");
  m.def("reset_peak_memory", [](py::object device) { reset_peak_memory(to_device(device)); }, py::arg("device") = "cpu");
  m.def("empty_cache", [](py::object device) { empty_cache(to_device(device)); }, py::arg("device") = "cpu");
}

}  // namespace mttt::python
