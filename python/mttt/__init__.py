"""mttt from Python: the C++ engine's tensors with higher-order autodiff, its layers, the ViT and
the TTT layers of "Learning to (Learn at Test Time)", exchanging tensors with NumPy, PyTorch and
JAX through DLPack and the buffer protocol. docs/python.md is the guide.

    import mttt
    x = mttt.uniform((4, 3), -1, 1, dtype=mttt.float64, requires_grad=True)
    y = mttt.tanh(x).sum()
    (g,) = mttt.grad(y, [x], create_graph=True)

Errors raised by the engine arrive as mttt.Error (a RuntimeError) with the engine's message.
"""

from ._core import *  # noqa: F401,F403  (the bindings: python/src/)
from ._core import Error, Tensor  # noqa: F401
from ._context import detect_anomaly, enable_grad, no_grad, profile  # noqa: F401

__all__ = [name for name in dir() if not name.startswith("_")]
