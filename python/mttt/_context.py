"""The engine's thread-local modes as context managers (and decorators), as PyTorch spells them.

Each restores the previous state on exit, exceptions included, so scopes nest as the C++
NoGrad / EnableGrad / DetectAnomaly scopes do: a TTT layer's inner loop at evaluation is
`with mttt.no_grad(): ... with mttt.enable_grad(): ...`.
"""

import contextlib

from . import _core


class _Mode(contextlib.ContextDecorator):
    _get = _set = None
    _value = None

    def __enter__(self):
        self._previous = type(self)._get()
        type(self)._set(self._value)
        return self

    def __exit__(self, *exc):
        type(self)._set(self._previous)
        return False


class no_grad(_Mode):
    """Nothing inside is recorded on the tape."""

    _get, _set, _value = staticmethod(_core.grad_enabled), staticmethod(_core.set_grad_enabled), False


class enable_grad(_Mode):
    """Recording again inside a no_grad scope (a TTT layer's inner loop at evaluation)."""

    _get, _set, _value = staticmethod(_core.grad_enabled), staticmethod(_core.set_grad_enabled), True


class detect_anomaly(_Mode):
    """Every op checks its output and every backward rule its cotangents for NaN and Inf, and
    raises mttt.Error naming the first op that produced one."""

    _get, _set, _value = staticmethod(_core.anomaly_enabled), staticmethod(_core.set_anomaly_enabled), True


class profile(_Mode):
    """Times every op, forward and backward; `.table()` / `.rows()` read the profile after the
    block. The profile starts empty."""

    _get, _set, _value = staticmethod(_core.profiler_enabled), staticmethod(_core.set_profiler_enabled), True

    def __enter__(self):
        _core.profiler_reset()
        return super().__enter__()

    @staticmethod
    def table():
        return _core.profiler_table()

    @staticmethod
    def rows():
        return _core.profiler_rows()
