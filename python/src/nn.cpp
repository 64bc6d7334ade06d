// Modules from Python: the drop-in layers (self-attention, linear attention, the TTT layers)
// made by kind with their options, their parameters as dicts by the spec's names, the TTT
// layer as a function of explicit parameters (equations 1-3), and safetensors files.
#include <pybind11/stl.h>

#include "mttt/ttt_layer.hpp"
#include "mttt/ttt_mixer.hpp"
#include "nn/checkpoint/safetensors.hpp"
#include "nn/functional.hpp"
#include "nn/inner_loss_reporter.hpp"
#include "nn/token_mixer.hpp"
#include "python/src/bindings.hpp"

namespace mttt::python {
namespace {

py::dict count_dict(const nn::ParameterCount& c) {
  return py::dict(py::arg("total") = c.total, py::arg("trainable") = c.trainable, py::arg("frozen") = c.frozen);
}

ttt::TTTOptions ttt_options(const std::string& kind, std::int64_t heads, py::object steps, py::object eta, py::object sgd,
                            py::object decoder_ln, py::object train_w0) {
  ttt::TTTOptions o;
  if (kind == "mttt_linear") o = ttt::TTTOptions::mttt_linear(heads);
  else if (kind == "mttt_mlp") o = ttt::TTTOptions::mttt_mlp(heads);
  else throw py::value_error("ttt_forward: kind must be 'mttt_linear' or 'mttt_mlp', got '" + kind + "'");
  if (!steps.is_none()) o.steps = steps.cast<int>();
  if (!eta.is_none()) {
    if (py::isinstance<py::float_>(eta) || py::isinstance<py::int_>(eta)) o.eta.assign(static_cast<std::size_t>(o.steps), eta.cast<double>());
    else o.eta = eta.cast<std::vector<double>>();
  }
  if (!sgd.is_none()) o.sgd = sgd.cast<bool>();
  if (!decoder_ln.is_none()) o.decoder_ln = decoder_ln.cast<bool>();
  if (!train_w0.is_none()) o.train_w0 = train_w0.cast<bool>();
  return o;
}

}  // namespace

void bind_nn(py::module_& m) {
  ttt::register_ttt_mixers();

  py::class_<nn::Module>(m, "Module", "a tree of parameters and buffers named as the spec's table")
      .def("parameters", [](const nn::Module& mod) { return to_dict(mod.named_parameters()); },
           "every parameter by its spec name (frozen ones included), in registration order")
      .def("trainable_parameters", [](const nn::Module& mod) { return to_dict(mod.named_trainable_parameters()); })
      .def("buffers", [](const nn::Module& mod) { return to_dict(mod.named_buffers()); })
      .def("load_parameters", [](nn::Module& mod, py::dict values, bool strict) {
             mod.load_tensors(from_dict(values, "load_parameters"), {.strict = strict});
           },
           py::arg("values"), py::arg("strict") = true,
           "copies values into the parameters and buffers of the same names (shapes must agree)")
      .def("freeze", [](nn::Module& mod, const std::string& p) { return mod.freeze(p); }, py::arg("pattern"))
      .def("unfreeze", [](nn::Module& mod, const std::string& p) { return mod.unfreeze(p); }, py::arg("pattern"))
      .def("count_parameters", [](const nn::Module& mod) { return count_dict(mod.count_parameters()); })
      .def("to", [](nn::Module& mod, py::object device) { mod.to_(to_device(device)); }, py::arg("device"),
           "moves every parameter and buffer to the device, in place")
      .def_property_readonly("device", [](const nn::Module& mod) { return to_string(mod.device()); })
      .def("__repr__", &nn::Module::describe);

  py::class_<nn::TokenMixer, nn::Module>(m, "Layer",
                                         "a drop-in layer of a ViT block: (B, N, D) -> (B, N, D), made by kind")
      .def(py::init([](const std::string& kind, std::int64_t width, std::int64_t heads, std::int64_t tokens, py::object dtype,
                       std::uint64_t seed, py::kwargs options) {
             Generator generator(seed);
             nn::TokenMixerSpec spec{kind, width, heads, tokens, parse_dtype(dtype), to_json(options, kind)};
             return nn::make_token_mixer(spec, generator);
           }),
           py::arg("kind"), py::arg("width"), py::arg("heads") = 1, py::kw_only(), py::arg("tokens") = 0,
           py::arg("dtype") = DType::float32, py::arg("seed") = 0,
           "kind: self_attention, linear_attention, linear_attention_elu, mttt_linear, mttt_mlp; the kind's "
           "options as keywords (TTT layers: steps, eta, sgd, decoder_ln, train_w0, init)")
      .def("forward", [](nn::TokenMixer& layer, const Tensor& y, py::object params) {
             if (params.is_none()) return layer.forward(y);
             nn::Substitution scope(layer, from_dict(params, "forward"), {.check_shapes = true});
             return layer.forward(y);
           },
           py::arg("y"), py::arg("params") = py::none(),
           "the layer on y (B, N, D); `params` (name -> Tensor) replaces its own for this call, so gradients flow to them")
      .def("__call__", [](nn::TokenMixer& layer, const Tensor& y) { return layer.forward(y); }, py::arg("y"))
      .def("collect_inner_losses", [](nn::TokenMixer& layer, bool collect) {
             auto* r = dynamic_cast<nn::InnerLossReporter*>(&layer);
             if (!r) throw py::type_error(layer.describe() + " has no inner loop");
             r->collect_inner_losses(collect);
           },
           py::arg("collect") = true)
      .def_property_readonly("inner_losses", [](const nn::TokenMixer& layer) -> py::object {
        auto* r = dynamic_cast<const nn::InnerLossReporter*>(&layer);
        if (!r) return py::none();
        return py::cast(r->inner_losses());
      }, "a TTT layer's inner losses l(W_0) .. l(W_T) of the last forward when collecting (summed over heads, "
         "averaged over the batch); None for layers without an inner loop");
  m.def("layer_kinds", &nn::token_mixer_kinds);

  m.def("ttt_parameters", [](const std::string& kind, std::int64_t width, std::int64_t heads, py::object steps,
                             py::object decoder_ln, py::object train_w0, py::object dtype, std::uint64_t seed) {
          auto o = ttt_options(kind, heads, steps, py::none(), py::none(), decoder_ln, train_w0);
          Generator generator(seed);
          return to_dict(ttt::init_ttt_params(o, width, generator, parse_dtype(dtype)).named(o));
        },
        py::arg("kind"), py::arg("width"), py::arg("heads"), py::kw_only(), py::arg("steps") = py::none(),
        py::arg("decoder_ln") = py::none(), py::arg("train_w0") = py::none(), py::arg("dtype") = DType::float32,
        py::arg("seed") = 0, "initial TTT parameters by the spec's names (phi.kernel, ..., inner.0.kernel, ...)");
  m.def("ttt_forward", [](py::dict params, const Tensor& y, const std::string& kind, std::int64_t heads, py::object steps,
                          py::object eta, py::object sgd, py::object decoder_ln, py::object train_w0,
                          std::optional<Tensor> permutation, bool collect_inner_losses, bool collect_fast_weights) {
          auto o = ttt_options(kind, heads, steps, eta, sgd, decoder_ln, train_w0);
          o.validate(y.size(-1));
          auto p = ttt::TTTParams::from_named(from_dict(params, "ttt_forward"), o);
          ttt::ForwardOptions f{permutation.value_or(Tensor()), collect_inner_losses, collect_fast_weights};
          ttt::TTTOutput out = ttt::ttt_forward(p, o, y, f);
          py::list fast_weights;
          auto names = ttt::inner_names(o.learner);
          for (const auto& W : out.fast_weights) {
            py::dict step;
            for (std::size_t i = 0; i < names.size(); ++i) step[py::str(names[i])] = W.tensors[i];
            fast_weights.append(step);
          }
          return py::dict(py::arg("z") = out.z, py::arg("inner_losses") = out.inner_losses,
                          py::arg("fast_weights") = fast_weights);
        },
        py::arg("params"), py::arg("y"), py::kw_only(), py::arg("kind") = "mttt_mlp", py::arg("heads"),
        py::arg("steps") = py::none(), py::arg("eta") = py::none(), py::arg("sgd") = py::none(),
        py::arg("decoder_ln") = py::none(), py::arg("train_w0") = py::none(), py::arg("permutation") = py::none(),
        py::arg("collect_inner_losses") = false, py::arg("collect_fast_weights") = false,
        "the TTT layer (eqs. 1-3) on y (B, N, D) with explicit parameters by the spec's names: a dict with z (B, N, D), "
        "inner_losses (T + 1 tensors (B, H) when collected) and fast_weights (W_1..W_T when collected)");
  m.def("draw_permutation", [](std::int64_t heads, std::int64_t tokens, std::uint64_t seed) {
          Generator generator(seed);
          return ttt::draw_permutation(heads, tokens, generator);
        },
        py::arg("heads"), py::arg("tokens"), py::arg("seed") = 0, "one random token order per head, (H, N) int64, for SGD");

  m.def("save_safetensors", [](py::object path, py::dict tensors, std::map<std::string, std::string> metadata) {
          nn::save_safetensors(to_path(path, "save_safetensors"), from_dict(tensors, "save_safetensors"), metadata);
        },
        py::arg("path"), py::arg("tensors"), py::arg("metadata") = std::map<std::string, std::string>{},
        "writes the tensors atomically (a crash leaves no half-written file)");
  m.def("load_safetensors", [](py::object path, bool with_metadata) -> py::object {
          auto file = nn::load_safetensors(to_path(path, "load_safetensors"));
          if (with_metadata) return py::make_tuple(to_dict(file.tensors), file.metadata);
          return to_dict(file.tensors);
        },
        py::arg("path"), py::arg("metadata") = false, "name -> Tensor (and the metadata dict with metadata=True)");
}

}  // namespace mttt::python
