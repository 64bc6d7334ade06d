"""Shared helpers of the Python tests (run by `meson test python` with the build tree's package
on PYTHONPATH). PyTorch is optional: tests that compare with it skip when it is absent."""

import os

import numpy as np
import pytest

import mttt


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def vectors():
    path = os.environ.get("MTTT_VECTORS") or os.path.join(os.path.dirname(__file__), "..", "data", "vectors")
    if not os.path.isdir(path):
        pytest.fail(f"the spec vectors are missing at {path}")
    return path


def max_rel_error(a, b, floor=0.0):
    """max |a - b| / max(max |b|, floor), for arrays or tensors."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b), initial=0.0) / max(np.max(np.abs(b), initial=0.0), floor, 1e-300))


@pytest.fixture(autouse=True)
def _fresh_modes():
    """Every test starts with recording on and anomaly mode and the profiler off."""
    yield
    mttt.set_grad_enabled(True)
    mttt.set_anomaly_enabled(False)
    mttt.set_profiler_enabled(False)
