"""Autodiff through the bindings: gradients against PyTorch's to rounding error (first and
second order), gradcheck orders 1-3, fuse over a Python lambda, the grad and anomaly modes,
the profiler and the switches."""

import math

import numpy as np
import pytest

import mttt
from conftest import max_rel_error

rng = np.random.default_rng(1)
A, W, B = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=(5,))

# The same functions written twice: f(lib, a, w, b) with lib = mttt or torch spelled alike.
FUNCTIONS = {
    "tanh_matmul": (lambda a, w, b: mttt.sum(mttt.tanh(a @ w + b) * 2.0),
                    lambda torch, a, w, b: torch.sum(torch.tanh(a @ w + b) * 2.0)),
    "log_softmax": (lambda a, w, b: mttt.sum(mttt.log_softmax(a @ w * b, axis=-1) ** 2),
                    lambda torch, a, w, b: torch.sum(torch.log_softmax(a @ w * b, dim=-1) ** 2)),
    "layer_norm_gelu": (lambda a, w, b: mttt.sum(mttt.gelu(mttt.layer_norm(a @ w, b, b, eps=1e-6)) * b),
                        lambda torch, a, w, b: torch.sum(
                            torch.nn.functional.gelu(torch.nn.functional.layer_norm(a @ w, (5,), b, b, eps=1e-6),
                                                     approximate="tanh") * b)),
    "fused_lambda": (lambda a, w, b: mttt.sum(mttt.fuse(lambda x, y: mttt.sigmoid(x * y) - x / (1.0 + y * y), a @ w, b)),
                     lambda torch, a, w, b: torch.sum(torch.sigmoid((a @ w) * b) - (a @ w) / (1.0 + b * b))),
}


def mttt_inputs():
    return [mttt.tensor(v, requires_grad=True) for v in (A, W, B)]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_match_pytorch(torch, name):
    f, g = FUNCTIONS[name]
    xs = mttt_inputs()
    y = f(*xs)
    grads = mttt.grad(y, xs, create_graph=True)
    # Second order: the gradient of <grad_a, 1> with respect to every input.
    second = mttt.grad(mttt.sum(grads[0]), xs, allow_unused=True)

    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (A, W, B)]
    ty = g(torch, *ts)
    tgrads = torch.autograd.grad(ty, ts, create_graph=True)
    tsecond = torch.autograd.grad(tgrads[0].sum(), ts, allow_unused=True)

    assert abs(y.item() - ty.item()) <= 1e-12 * max(1.0, abs(ty.item()))
    for mine, theirs in zip(grads, tgrads):
        assert max_rel_error(mine.detach().numpy(), theirs.detach().numpy()) < 1e-12
    for mine, theirs in zip(second, tsecond):
        expected = np.zeros(mine.shape) if theirs is None else theirs.detach().numpy()
        assert max_rel_error(mine.numpy(), expected, floor=1e-6) < 1e-11


def test_backward_accumulates_into_grad():
    xs = mttt_inputs()
    y = FUNCTIONS["tanh_matmul"][0](*xs)
    y.backward(retain_graph=True)
    first = xs[1].grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(xs[1].grad.numpy(), 2 * first)
    xs[1].grad = None
    assert xs[1].grad is None


@pytest.mark.parametrize("order", [1, 2, 3])
def test_gradcheck_orders(order):
    xs = [mttt.uniform((3, 2), -1, 1, dtype=mttt.float64), mttt.uniform((2,), -1, 1, dtype=mttt.float64)]
    result = mttt.gradcheck(lambda a, b: mttt.tanh(a * b) + mttt.exp(b) * a, xs, order=order)
    assert result, result.message
    assert result.max_abs_error < 1e-5


def test_gradcheck_catches_a_wrong_gradient():
    # detach inside f removes a dependence that finite differences still see: AD says a, the
    # differences 2a.
    x = [mttt.uniform((4,), 0.5, 1, dtype=mttt.float64)]
    result = mttt.gradcheck(lambda a: a * a.detach(), x)
    assert not result.ok and result.message
    with pytest.raises(ValueError, match="order must be 1, 2 or 3"):
        mttt.gradcheck(lambda a: a, x, order=4)


def test_no_grad_and_enable_grad_nest_and_restore():
    w = mttt.ones((2,), requires_grad=True)
    with mttt.no_grad():
        assert not (w * 2).requires_grad
        with mttt.enable_grad():
            assert (w * 2).requires_grad
        assert not mttt.grad_enabled()
    assert mttt.grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with mttt.no_grad():
            1 / 0
    assert mttt.grad_enabled()  # restored on exceptions

    @mttt.no_grad()
    def evaluate(x):
        return x * 3

    assert not evaluate(w).requires_grad


def test_anomaly_mode_names_the_op():
    x = mttt.tensor([-1.0, 1.0], requires_grad=True)
    assert not mttt.anomaly_enabled()
    with mttt.detect_anomaly():
        with pytest.raises(mttt.Error, match=r"log|sqrt"):
            mttt.sqrt(x)
    mttt.sqrt(x)  # outside: NaN silently, as the engine's default


def test_profiler_counts_ops():
    x = mttt.ones((8, 8), requires_grad=True)
    with mttt.profile() as prof:
        mttt.sum(mttt.tanh(x @ x)).backward()
    rows = prof.rows()
    names = {(r["name"], r["phase"]) for r in rows}
    assert ("matmul", "forward") in names and ("tanh", "forward") in names
    assert any(r["phase"] == "backward" for r in rows)
    assert "matmul" in prof.table()
    assert not mttt.profiler_enabled()


def test_switches():
    threads = mttt.num_threads()
    mttt.set_num_threads(1)
    assert mttt.num_threads() == 1
    mttt.set_num_threads(threads)
    for get, set_ in ((mttt.deterministic, mttt.set_deterministic), (mttt.fusion_enabled, mttt.set_fusion_enabled)):
        before = get()
        set_(not before)
        assert get() == (not before)
        set_(before)
    assert mttt.memory_stats()["peak_bytes_in_use"] >= 0


def test_fuse_expressions_cannot_escape():
    kept = []

    def f(a):
        kept.append(a)
        return a * 2.0

    x = mttt.ones(3)
    assert mttt.fuse(f, x).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="after the fuse call"):
        kept[0] + 1.0
    with pytest.raises(TypeError, match="must return an mttt.Expr"):
        mttt.fuse(lambda a: 1.0, x)


def test_grad_with_create_graph_differentiates_to_third_order():
    x = mttt.tensor([0.3, -0.7], dtype=mttt.float64, requires_grad=True)
    y = mttt.sum(mttt.tanh(x))
    (d1,) = mttt.grad(y, [x], create_graph=True)
    (d2,) = mttt.grad(mttt.sum(d1), [x], create_graph=True)
    (d3,) = mttt.grad(mttt.sum(d2), [x])
    t = np.tanh([0.3, -0.7])
    np.testing.assert_allclose(d3.numpy(), -2 * (1 - t**2) * (1 - 3 * t**2), rtol=1e-13)
    assert math.isclose(mttt.grad(y, x).numpy()[0], 1 - t[0] ** 2, rel_tol=1e-14)
