// The extension module mttt._core: the library's errors as Python exceptions, then each area's
// bindings.
#include "python/src/bindings.hpp"

namespace mttt::python {

PYBIND11_MODULE(_core, m) {
  m.doc() = "mttt: tensors with higher-order autodiff, the ViT and the TTT layers (C++ engine)";
  // Every error of the library, with its message unchanged ("[matmul] (3, 4) @ (5, 6): ...").
  py::register_exception<mttt::Error>(m, "Error", PyExc_RuntimeError);
  bind_tensor(m);
  bind_dlpack(m);
  bind_ops(m);
  bind_autodiff(m);
  bind_nn(m);
  bind_models(m);
  bind_train(m);
}

}  // namespace mttt::python
