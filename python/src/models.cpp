// The ViT from a config's model section, training checkpoints (safetensors), and the paper's
// equivalences (mttt verify) as data.
#include <pybind11/stl.h>

#include "mttt/verify.hpp"
#include "nn/config.hpp"
#include "nn/train/checkpoint.hpp"
#include "nn/train/train_config.hpp"
#include "nn/train/trainer.hpp"
#include "nn/vit.hpp"
#include "python/src/bindings.hpp"

namespace mttt::python {

void bind_models(py::module_& m) {
  py::class_<nn::ViT, nn::Module>(m, "ViT", py::dynamic_attr(), "the Vision Transformer around the drop-in layer (nn/vit.hpp)")
      .def(py::init([](py::object model, std::uint64_t seed) {
             Generator generator(seed);
             return std::make_unique<nn::ViT>(nn::parse_vit_config(to_json(model, "model"), "model"), generator);
           }),
           py::arg("model") = py::dict(), py::arg("seed") = 0,
           "model: a config's model section as a dict (docs/config.md), e.g. {\"variant\": \"ti\", \"layer\": \"mttt_mlp\"}")
      .def("forward", &nn::ViT::forward, py::arg("images"), "images (B, H, W, C) -> logits (B, classes)")
      .def("__call__", &nn::ViT::forward, py::arg("images"))
      .def("encode", &nn::ViT::encode, py::arg("images"), "the tokens after the final LayerNorm, (B, N, D)")
      .def_property_readonly("config", [](const nn::ViT& vit) { return from_json(vit.config().to_json()); })
      .def_property_readonly("depth", &nn::ViT::depth)
      .def("layer", [](nn::ViT& vit, std::int64_t i) -> nn::TokenMixer& { return vit.block(i).layer(); },
           py::return_value_policy::reference_internal, py::arg("block"), "the drop-in layer of block i");

  m.def("save_checkpoint", [](py::object path, const nn::ViT& model, std::int64_t step, py::object config, std::uint64_t seed) {
          nlohmann::json json = config.is_none() ? nn::default_train_config() : to_json(config, "config");
          if (config.is_none()) json["model"] = model.config().to_json();
          nn::save_checkpoint(to_path(path, "save_checkpoint"), model, nullptr, {.step = step, .config = json, .seed = seed});
        },
        py::arg("path"), py::arg("model"), py::kw_only(), py::arg("step") = 0, py::arg("config") = py::none(),
        py::arg("seed") = 0,
        "writes the model's parameters as a training checkpoint (atomically); config: the whole training config "
        "(default: the defaults with this model's section)");
  m.def("load_checkpoint", [](py::object path, std::vector<std::string> overrides) {
          nn::TrainConfig config;
          auto model = nn::load_model(to_path(path, "load_checkpoint"), &config, overrides);
          py::object vit = py::cast(std::move(model));
          vit.attr("train_config") = from_json(config.json);
          return vit;
        },
        py::arg("path"), py::arg("overrides") = std::vector<std::string>{},
        "the ViT of a training checkpoint with its parameters (its whole config as .train_config)");
  m.def("read_checkpoint", [](py::object path) {
          auto c = nn::read_checkpoint(to_path(path, "read_checkpoint"));
          return py::dict(py::arg("step") = c.info.step, py::arg("seed") = c.info.seed,
                          py::arg("config") = from_json(c.info.config), py::arg("tensors") = to_dict(c.file.tensors));
        },
        py::arg("path"), "a checkpoint's step, seed, config and every tensor (parameters and optimiser state)");

  m.def("verify",
        [](std::uint64_t seed, std::int64_t batch, std::int64_t tokens, std::int64_t width, std::int64_t heads,
           const std::string& device, std::vector<std::string> rows) {
          ttt::VerifyOptions options;
          options.shape = {batch, tokens, width, heads};
          options.seed = seed;
          options.device = parse_device(device);
          options.rows = std::move(rows);
          py::list out;
          for (const auto& r : ttt::verify_equivalences(options))
            out.append(py::dict(py::arg("group") = r.group, py::arg("check") = r.check, py::arg("dtype") = r.dtype,
                                py::arg("quantity") = r.quantity, py::arg("error") = r.error,
                                py::arg("estimate") = r.estimate, py::arg("tolerance") = r.tolerance(),
                                py::arg("ok") = r.ok()));
          return out;
        },
        py::arg("seed") = 0, py::kw_only(), py::arg("batch") = 2, py::arg("tokens") = 8, py::arg("width") = 12,
        py::arg("heads") = 3, py::arg("device") = "cpu", py::arg("rows") = std::vector<std::string>{},
        "the paper's equivalences checked numerically (mttt verify), one dict per row: its error, the rounding "
        "estimate at this size and the tolerance (a multiple of it)");
}

}  // namespace mttt::python
