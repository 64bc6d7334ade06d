// Training from Python: the optimisers (Adam, SGD) over a dict of parameters, and the trainer:
// mttt.train(config, callback) runs `mttt train`'s loop (metrics.jsonl, checkpoints, evaluation
// every epoch) and hands each record it logs to the callback as a dict; an exception raised by
// the callback stops the run. The GIL is released while the engine computes and taken again for
// each callback.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "nn/optim/optimizer.hpp"
#include "nn/optim/schedule.hpp"
#include "nn/train/train_config.hpp"
#include "nn/train/trainer.hpp"
#include "python/src/bindings.hpp"

namespace mttt::python {
namespace {

nn::TrainConfig train_config(py::object config, const std::vector<std::string>& overrides) {
  if (py::isinstance<py::dict>(config)) return nn::parse_train_config(to_json(config, "config"), overrides, "train(config)");
  return nn::load_train_config(to_path(config, "train"), overrides);
}

void run(nn::Trainer& trainer, py::object callback) {
  if (!callback.is_none()) {
    if (!PyCallable_Check(callback.ptr())) throw py::type_error("train: callback must be callable");
    trainer.on_record = [callback](const nlohmann::json& record) {
      py::gil_scoped_acquire gil;
      callback(from_json(record));
    };
  }
  struct Reset {
    nn::Trainer& t;
    ~Reset() { t.on_record = nullptr; }
  } reset{trainer};
  py::gil_scoped_release release;
  trainer.run();
}

py::dict eval_dict(const nn::EvalResult& r) {
  return py::dict(py::arg("loss") = r.loss, py::arg("accuracy") = r.accuracy, py::arg("examples") = r.examples,
                  py::arg("inner_losses") = r.inner_losses);
}

void bind_optimizers(py::module_& m) {
  py::class_<nn::Optimizer>(m, "Optimizer", "updates parameters from their accumulated .grad (nn/optim/optimizer.hpp)")
      .def("step", [](nn::Optimizer& o) { o.step(); })
      .def("zero_grad", &nn::Optimizer::zero_grad)
      .def_property_readonly("steps", &nn::Optimizer::steps)
      .def_property_readonly("last_grad_norm", &nn::Optimizer::last_grad_norm)
      .def_property_readonly("effective_lr", &nn::Optimizer::effective_lr)
      .def("state", [](const nn::Optimizer& o) { return to_dict(o.state()); })
      .def("load_state", [](nn::Optimizer& o, py::dict s) { o.load_state(from_dict(s, "load_state")); });

  auto options = [](double lr, const std::string& schedule, std::int64_t warmup, std::int64_t total, double clip_norm,
                    double weight_decay, std::vector<std::string> decay_patterns, std::vector<std::string> frozen) {
    nn::OptimizerOptions o;
    o.lr = nn::make_schedule(schedule, lr, warmup, total);
    o.clip_norm = clip_norm;
    o.weight_decay = weight_decay;
    o.decay_patterns = std::move(decay_patterns);
    o.frozen = std::move(frozen);
    return o;
  };
  const char* doc = "lr follows `schedule` (constant, cosine: warm-up then cosine to 0 at `total`, linear); "
                    "clip_norm 0: no clipping; weight decay decoupled (PyTorch's AdamW) on names matching "
                    "decay_patterns; frozen patterns are never updated";
  py::class_<nn::Adam, nn::Optimizer>(m, "Adam")
      .def(py::init([=](py::dict params, double lr, const std::string& schedule, std::int64_t warmup, std::int64_t total,
                        double clip_norm, double weight_decay, std::vector<std::string> decay, std::vector<std::string> frozen,
                        double beta1, double beta2, double eps) {
             return std::make_unique<nn::Adam>(from_dict(params, "Adam"),
                                               options(lr, schedule, warmup, total, clip_norm, weight_decay, decay, frozen),
                                               beta1, beta2, eps);
           }),
           py::arg("params"), py::kw_only(), py::arg("lr") = 1e-3, py::arg("schedule") = "constant", py::arg("warmup") = 0,
           py::arg("total") = 0, py::arg("clip_norm") = 0.0, py::arg("weight_decay") = 0.0,
           py::arg("decay_patterns") = std::vector<std::string>{"*"}, py::arg("frozen") = std::vector<std::string>{},
           py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, doc);
  py::class_<nn::Sgd, nn::Optimizer>(m, "SGD")
      .def(py::init([=](py::dict params, double lr, const std::string& schedule, std::int64_t warmup, std::int64_t total,
                        double clip_norm, double weight_decay, std::vector<std::string> decay, std::vector<std::string> frozen,
                        double momentum, bool nesterov) {
             return std::make_unique<nn::Sgd>(from_dict(params, "SGD"),
                                              options(lr, schedule, warmup, total, clip_norm, weight_decay, decay, frozen),
                                              momentum, nesterov);
           }),
           py::arg("params"), py::kw_only(), py::arg("lr") = 1e-3, py::arg("schedule") = "constant", py::arg("warmup") = 0,
           py::arg("total") = 0, py::arg("clip_norm") = 0.0, py::arg("weight_decay") = 0.0,
           py::arg("decay_patterns") = std::vector<std::string>{"*"}, py::arg("frozen") = std::vector<std::string>{},
           py::arg("momentum") = 0.9, py::arg("nesterov") = false, doc);
}

}  // namespace

void bind_train(py::module_& m) {
  bind_optimizers(m);
  py::class_<nn::Trainer>(m, "Trainer", "the training loop of `mttt train` (nn/train/trainer.hpp)")
      .def(py::init([](py::object config, std::vector<std::string> overrides, std::string resume) {
             return std::make_unique<nn::Trainer>(train_config(config, overrides), resume);
           }),
           py::arg("config"), py::kw_only(), py::arg("overrides") = std::vector<std::string>{}, py::arg("resume") = "",
           "config: a dict (docs/config.md; missing keys take their defaults) or a JSON file's path; overrides as "
           "`mttt train --set` (\"optim.lr=0.01\"); resume: a checkpoint to continue from")
      .def("run", &run, py::arg("callback") = py::none(),
           "trains to the configured end; callback(record) receives each logged record as a dict")
      .def("train_step", [](nn::Trainer& t, bool log) {
             py::gil_scoped_release release;
             t.train_step(log);
             return t.last_loss();  // on a GPU this waits for the step (C++'s train_step(false) does not)
           },
           py::arg("log") = false, "one update; returns its loss")
      .def("evaluate", [](nn::Trainer& t) {
        nn::EvalResult r;
        {
          py::gil_scoped_release release;
          r = t.evaluate();
        }
        return eval_dict(r);
      })
      .def_property_readonly("model", &nn::Trainer::model, py::return_value_policy::reference_internal)
      .def_property_readonly("step", &nn::Trainer::step)
      .def_property_readonly("steps_per_epoch", &nn::Trainer::steps_per_epoch)
      .def_property_readonly("total_steps", &nn::Trainer::total_steps);

  m.def("train", [](py::object config, py::object callback, std::vector<std::string> overrides, std::string resume) {
          nn::Trainer trainer(train_config(config, overrides), resume);
          run(trainer, callback);
          return trainer.step();
        },
        py::arg("config"), py::arg("callback") = py::none(), py::kw_only(),
        py::arg("overrides") = std::vector<std::string>{}, py::arg("resume") = "",
        "trains as `mttt train` does; callback(record) receives every record the run logs (set run.log_every = 1 for "
        "every step). Returns the number of steps trained.");
}

}  // namespace mttt::python
